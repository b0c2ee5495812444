import type { ProbeOrigin } from '../checks/probes/probe-result.js';
import { netnsNft } from '../dataplane/index.js';
import { NftHost } from './nft-host.js';

/** A host that is a network namespace on this machine (the lab): real kernel, real sockets. */
export class NetnsHost extends NftHost {
  constructor(
    name: string,
    readonly namespace: string,
    address: string,
    /** The management network's namespace, for controller-vantage checks (this process's when null). */
    private readonly managementNamespace: string | null,
  ) {
    super(name, address, netnsNft(namespace), ['-n', namespace]);
  }

  protected controllerOrigin(): ProbeOrigin {
    return this.managementNamespace === null ? {} : { namespace: this.managementNamespace };
  }

  protected hostOrigin(): ProbeOrigin {
    return { namespace: this.namespace };
  }
}
