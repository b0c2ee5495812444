import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { dial, DialError } from '../../checks/probes/dialer.js';
import type { ProbeOrigin } from '../../checks/probes/probe-result.js';
import { algorithmsFor, appendKnownHost, judgeHostKey, readKnownHosts, type HostKeys } from './known-hosts.js';

export type SshErrorCode =
  | 'SSH_HOST_KEY_UNKNOWN'
  | 'SSH_HOST_KEY_CHANGED'
  | 'SSH_HOST_KEY_REVOKED'
  | 'SSH_AUTH_FAILED'
  | 'SSH_NO_IDENTITY'
  | 'SSH_UNREACHABLE'
  | 'SSH_TIMEOUT'
  | 'SSH_CONNECTION_LOST'
  | 'SSH_CLOSED'
  | 'SSH_HOST_LOCKED'
  | 'SSH_REVERTED'
  | 'SSH_REMOTE_FAILED';

/** Failures that a new connection may cure; a refused host key or login never is. */
const RETRYABLE: ReadonlySet<SshErrorCode> = new Set(['SSH_UNREACHABLE', 'SSH_TIMEOUT', 'SSH_CONNECTION_LOST']);

export class SshError extends Error {
  override readonly name = 'SshError';
  readonly retryable: boolean;
  constructor(
    readonly code: SshErrorCode,
    message: string,
  ) {
    super(message);
    this.retryable = RETRYABLE.has(code);
  }
}

export interface SshTarget {
  /** The host's name in the hosts file, for messages. */
  name: string;
  address: string;
  port: number;
  user: string;
  identityFile: string;
  knownHostsFile: string;
  acceptNewHostKey: boolean;
  /** Where the TCP connection starts: the management namespace in the lab, this process otherwise. */
  origin: ProbeOrigin;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const where = (t: SshTarget) => `${t.name} (${t.user}@${t.address}:${t.port})`;

/** What the host's key must be, from the known-hosts file: `check` judges an offered key. */
export async function hostKeyPolicy(t: SshTarget): Promise<{ known: HostKeys; algorithms: string[] | null }> {
  const known = await readKnownHosts(t.knownHostsFile, t.address, t.port);
  const types = known.keys.map((k) => k.type);
  return { known, algorithms: types.length ? algorithmsFor(types) : null };
}

/**
 * One SSH connection to one host, opened on first use and reused for every later command
 * (channels are cheap; handshakes are not). A connection that dies — the host rebooted, or a
 * rule just applied cut it — is dropped and the next command opens a new one; callers retry
 * `retryable` failures with the project's backoff. The host key is checked against the
 * known-hosts file before anything is sent.
 */
export class SshConnection {
  private client: Promise<Client> | null = null;
  private closed = false;

  constructor(
    readonly target: SshTarget,
    private readonly opts: { connectTimeoutMs: number; keepaliveIntervalMs: number },
  ) {}

  private async open(): Promise<Client> {
    const t = this.target;
    const key = await readFile(t.identityFile).catch((e: Error) => {
      throw new SshError('SSH_NO_IDENTITY', `${where(t)}: cannot read the identity file ${t.identityFile}: ${e.message}`);
    });
    const policy = await hostKeyPolicy(t);
    let sock: Duplex;
    try {
      sock = await dial(t.origin, t.address, t.port, this.opts.connectTimeoutMs);
    } catch (e) {
      throw new SshError('SSH_UNREACHABLE', `${where(t)}: ${(e as Error).message}`);
    }
    const client = new Client();
    let refusal: SshError | null = null;
    let tofu: Buffer | null = null;
    const config: ConnectConfig = {
      sock,
      username: t.user,
      privateKey: key,
      readyTimeout: this.opts.connectTimeoutMs,
      keepaliveInterval: this.opts.keepaliveIntervalMs,
      keepaliveCountMax: 2,
      ...(policy.algorithms ? { algorithms: { serverHostKey: policy.algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } } : {}),
      hostVerifier: (offered: Buffer) => {
        const verdict = judgeHostKey(policy.known, offered, where(t), t.knownHostsFile);
        if (verdict.ok) return true;
        if (verdict.code === 'SSH_HOST_KEY_UNKNOWN' && t.acceptNewHostKey) {
          tofu = offered;
          return true;
        }
        refusal = new SshError(verdict.code, verdict.message);
        return false;
      },
    };
    return new Promise<Client>((resolve, reject) => {
      const fail = (e: Error & { level?: string }) => {
        client.removeAllListeners('ready');
        client.end();
        sock.destroy();
        if (refusal) return reject(refusal);
        if (e.level === 'client-authentication') return reject(new SshError('SSH_AUTH_FAILED', `${where(t)}: the server refused the key ${t.identityFile} for ${t.user} (is its public key in ~${t.user}/.ssh/authorized_keys?)`));
        if (/timed out/i.test(e.message)) return reject(new SshError('SSH_TIMEOUT', `${where(t)}: no SSH handshake within ${this.opts.connectTimeoutMs} ms`));
        reject(new SshError('SSH_UNREACHABLE', `${where(t)}: ${e.message}`));
      };
      client.once('error', fail);
      client.once('ready', () => {
        client.off('error', fail);
        // Later errors end the connection, and 'close' makes the next command reconnect.
        client.on('error', () => undefined);
        client.setMaxListeners(100);
        const accepted = tofu;
        if (accepted) appendKnownHost(t.knownHostsFile, t.address, t.port, accepted).then(() => resolve(client), reject);
        else resolve(client);
      });
      client.connect(config);
    });
  }

  /** The live connection, or a new one. */
  private session(): Promise<Client> {
    // A late caller (a read-back still on its way when the command ended) must not open a new one.
    if (this.closed) return Promise.reject(new SshError('SSH_CLOSED', `${where(this.target)}: the connection was closed`));
    if (!this.client) {
      const p = this.open();
      this.client = p;
      const forget = () => {
        if (this.client === p) this.client = null;
      };
      p.then((c) => c.once('close', forget), forget);
    }
    return this.client;
  }

  /** Forgets the connection (it is presumed dead): the next command opens a new one. */
  drop(): void {
    const c = this.client;
    this.client = null;
    c?.then((client) => client.destroy(), () => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = null;
    await c?.then(
      (client) =>
        new Promise<void>((resolve) => {
          client.once('close', () => resolve());
          client.end();
          setTimeout(() => {
            client.destroy();
            resolve();
          }, 1000).unref();
        }),
      () => undefined,
    );
  }

  /**
   * Runs `command` with `stdin`; resolves with its exit code and output. A command that gets no
   * answer within `timeoutMs` drops the connection (SSH_TIMEOUT): a stalled connection must not
   * be reused.
   */
  async exec(command: string, opts: { stdin?: string; timeoutMs: number }): Promise<ExecResult> {
    const client = await this.session();
    return new Promise<ExecResult>((resolve, reject) => {
      let channel: ClientChannel | null = null;
      let settled = false;
      const finish = (e: SshError | null, r?: ExecResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e) {
          channel?.destroy();
          reject(e);
        } else resolve(r!);
      };
      const timer = setTimeout(() => {
        this.drop();
        finish(new SshError('SSH_TIMEOUT', `${where(this.target)}: no answer within ${opts.timeoutMs} ms (connection dropped)`));
      }, opts.timeoutMs);
      const lost = () => {
        this.drop();
        finish(new SshError('SSH_CONNECTION_LOST', `${where(this.target)}: the connection was lost during a command`));
      };
      client.once('close', lost);
      client.exec(command, (err, ch) => {
        if (err) {
          client.off('close', lost);
          this.drop();
          return finish(new SshError('SSH_CONNECTION_LOST', `${where(this.target)}: cannot start a command: ${err.message}`));
        }
        channel = ch;
        let stdout = '';
        let stderr = '';
        let code: number | null = null;
        ch.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        ch.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        ch.on('exit', (c: number | null) => (code = c));
        ch.on('close', () => {
          client.off('close', lost);
          if (code === null) return lost();
          finish(null, { code, stdout, stderr });
        });
        ch.end(opts.stdin ?? '');
      });
    });
  }

  /** A TCP connection opened by the host's sshd (direct-tcpip): the host's own view outwards. */
  async forwardOut(host: string, port: number, timeoutMs: number): Promise<Duplex> {
    const client = await this.session();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new DialError('ETIMEDOUT', `timed out after ${timeoutMs} ms`)), timeoutMs);
      client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
        clearTimeout(timer);
        if (err) return reject(new DialError('ECONNREFUSED', err.message));
        resolve(stream);
      });
    });
  }
}
