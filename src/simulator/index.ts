export { formatPath, formatVerdict, PacketError, simulate, type Packet, type Simulation, type Step, type Verdict } from './simulate.js';
