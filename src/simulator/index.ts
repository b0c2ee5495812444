export { formatPath, formatVerdict, PacketError, simulate, type Packet, type Simulation, type Step, type Verdict } from './simulate.js';
export { prepareProgram, type PreparedProgram } from './prepared-program.js';
