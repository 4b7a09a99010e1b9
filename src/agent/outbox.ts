import { join } from 'node:path';
import type { AgentMessage } from '../core/agent-protocol.js';
import { readJsonFile, writeAtomic } from './state-files.js';

type Sequenced = Extract<AgentMessage, { seq: number }>;
type Unsequenced = Sequenced extends infer M ? (M extends Sequenced ? Omit<M, 'seq'> : never) : never;

interface OutboxFile {
  nextSeq: number;
  messages: Sequenced[];
}

const MAX_BUFFERED = 10_000;

/**
 * Results and events waiting for the front-end's acknowledgement, persisted
 * so they survive both a cut link and an agent restart. Sequence numbers only
 * grow (the counter is persisted too); the front-end applies each at most once.
 */
export class Outbox {
  private state: OutboxFile = { nextSeq: 1, messages: [] };
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string) {}

  static async open(stateDir: string): Promise<Outbox> {
    const box = new Outbox(join(stateDir, 'outbox.json'));
    box.state = (await readJsonFile<OutboxFile>(box.path)) ?? box.state;
    return box;
  }

  /** Stamps a message with the next sequence number and stores it before it is sent. */
  async add(msg: Unsequenced): Promise<Sequenced> {
    const stamped = { ...msg, seq: this.state.nextSeq++ } as Sequenced;
    this.state.messages.push(stamped);
    if (this.state.messages.length > MAX_BUFFERED)
      this.state.messages.splice(0, this.state.messages.length - MAX_BUFFERED);
    await this.persist();
    return stamped;
  }

  /** Forgets everything up to and including `seq`. */
  async ack(seq: number): Promise<void> {
    const before = this.state.messages.length;
    this.state.messages = this.state.messages.filter((m) => m.seq > seq);
    if (this.state.messages.length !== before) await this.persist();
  }

  pending(): readonly Sequenced[] {
    return this.state.messages;
  }

  private persist(): Promise<void> {
    const snapshot = JSON.stringify(this.state);
    this.writing = this.writing.then(() => writeAtomic(this.path, snapshot));
    return this.writing;
  }
}
