// Minimal type declarations for the Holepunch modules the mesh uses
// (they ship none). Only the members used by src/mesh are declared.

declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events';
  export interface KeyPair {
    publicKey: Buffer;
    secretKey: Buffer;
  }
  export interface DHTNode {
    host: string;
    port: number;
  }
  export interface DHTOptions {
    bootstrap: Array<DHTNode | string>;
    host?: string;
    port?: number;
    keyPair?: KeyPair;
    ephemeral?: boolean;
    firewalled?: boolean;
  }
  export default class DHT extends EventEmitter {
    constructor(options: DHTOptions);
    static keyPair(seed?: Buffer): KeyPair;
    static hash(data: Buffer): Buffer;
    readonly destroyed: boolean;
    fullyBootstrapped(): Promise<void>;
    /** A topic lookup: a stream of replies, each naming peers announced under `topic`. */
    lookup(topic: Buffer): AsyncIterable<{ peers: Array<{ publicKey: Buffer }> }> & { destroy(): void };
    address(): { host: string; port: number };
    destroy(options?: { force?: boolean }): Promise<void>;
  }
}

declare module 'hyperdht/testnet.js' {
  import type DHT from 'hyperdht';
  import type { DHTNode } from 'hyperdht';
  export interface Testnet {
    nodes: DHT[];
    bootstrap: DHTNode[];
    createNode(options?: object): DHT;
    destroy(): Promise<void>;
  }
  export default function createTestnet(size?: number, options?: { host?: string; port?: number }): Promise<Testnet>;
}

declare module 'hyperswarm' {
  import type { EventEmitter } from 'node:events';
  import type { Duplex } from 'node:stream';
  import type DHT from 'hyperdht';
  import type { KeyPair } from 'hyperdht';

  export interface SecretStream extends Duplex {
    readonly publicKey: Buffer;
    readonly remotePublicKey: Buffer;
    readonly handshakeHash: Buffer | null;
    readonly isInitiator: boolean;
    readonly opened: Promise<boolean>;
    readonly rawBytesRead: number;
    readonly rawBytesWritten: number;
    setKeepAlive(ms: number): void;
    setTimeout(ms: number): void;
    /** Sends a datagram (encrypted, not retransmitted); received as a `message` event. */
    trySend(buffer: Buffer): void;
  }
  export interface PeerInfo {
    publicKey: Buffer;
    client: boolean;
    topics: Buffer[];
    ban(banned?: boolean): void;
  }
  export interface PeerDiscoverySession {
    refresh(options?: { client?: boolean; server?: boolean }): Promise<void>;
    flushed(): Promise<void>;
    destroy(): Promise<void>;
  }
  export interface HyperswarmOptions {
    keyPair?: KeyPair;
    dht?: DHT;
    maxPeers?: number;
    firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean;
  }
  export default class Hyperswarm extends EventEmitter {
    constructor(options?: HyperswarmOptions);
    readonly keyPair: KeyPair;
    readonly dht: DHT;
    readonly connections: Set<SecretStream>;
    /** Peers it knows of: `attempts` counts the connections that closed (opened or not) since the last that lasted. */
    readonly peers: Map<string, { attempts: number }>;
    readonly destroyed: boolean;
    join(topic: Buffer, options?: { client?: boolean; server?: boolean }): PeerDiscoverySession;
    /** Keeps connecting to `publicKey` until `leavePeer`. */
    joinPeer(publicKey: Buffer): void;
    leavePeer(publicKey: Buffer): void;
    leave(topic: Buffer): Promise<void>;
    flush(): Promise<boolean>;
    listen(): Promise<void>;
    destroy(options?: { force?: boolean }): Promise<void>;
    on(event: 'connection', listener: (conn: SecretStream, info: PeerInfo) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}

declare module 'protomux-rpc' {
  import type { EventEmitter } from 'node:events';
  export interface ProtomuxRPCOptions {
    id?: Buffer;
    protocol?: string;
    valueEncoding?: unknown;
    handshake?: Buffer | null;
    handshakeEncoding?: unknown;
  }
  export default class ProtomuxRPC extends EventEmitter {
    constructor(stream: unknown, options?: ProtomuxRPCOptions);
    readonly closed: boolean;
    readonly opened: boolean;
    readonly mux: { pair(options: { protocol: string; id?: Buffer | null }, notify: (id: Buffer | null) => void): void };
    respond(method: string, options: { valueEncoding?: unknown }, handler: (value: Buffer | null) => Promise<Buffer | null> | Buffer | null): this;
    unrespond(method: string): this;
    request(method: string, value: Buffer, options?: { timeout?: number; valueEncoding?: unknown }): Promise<Buffer>;
    event(method: string, value: Buffer, options?: { valueEncoding?: unknown }): void;
    fullyOpened(): Promise<void>;
    end(): Promise<void>;
    destroy(err?: Error): void;
  }
}
