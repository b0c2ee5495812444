import type { ProbeOrigin } from '../checks/probes/probe-result.js';
import { localNft } from '../dataplane/index.js';
import { NftHost } from './nft-host.js';

/**
 * The machine Palisade runs on, protecting itself. Both vantages are this machine: checks
 * verify that it still reaches what it must (declare `target`s for the management side).
 */
export class LocalHost extends NftHost {
  constructor(name: string, address: string, opts: { manageThisMachine: boolean }) {
    super(name, address, localNft({ allowRootNamespace: opts.manageThisMachine }), []);
  }

  protected controllerOrigin(): ProbeOrigin {
    return {};
  }

  protected hostOrigin(): ProbeOrigin {
    return {};
  }
}
