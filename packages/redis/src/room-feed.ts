// One subscribed room on this node: passes the room's messages on in id
// order, each once. Pub/sub loses what is published while a subscription
// connection is down, so ids are checked as they come: a message past the
// next expected id waits while the missing ones are read from the room's
// stream (which holds every id the publish script assigned), and a message
// at or below the last one passed on is a duplicate and dropped. After a
// reconnect (or on each heartbeat) `catchUp` reads whatever came after the
// last id, so that a quiet room is caught up too.
import type { RoomMessage } from 'switchboard/hub';

/** Wait before reading the stream again after a failed read (ms). */
const RETRY_DELAY = 250;

export interface Continuation {
  epoch: string;
  head: number;
  /** The position asked for is not in the room's current sequence (another epoch). */
  reset: boolean;
  /** Messages after the position asked for, oldest first. */
  messages: RoomMessage[];
}

export interface FeedDeps {
  /** The room's messages after `since` in `epoch` (Adapter.history's script). */
  readAfter(room: string, since: number, epoch: string | undefined): Promise<Continuation>;
  deliver(message: RoomMessage): void;
  /**
   * Ids were lost for good (trimmed before they could be read, or the sequence restarted with
   * ids this node cannot order): every local member is made to resume, where the hub
   * announces the gap (docs/protocol.md, section 5).
   */
  forceResume(room: string, epoch: string): void;
  reportError(error: unknown): void;
  /** Messages held while a gap is filled; beyond it the members resume (their replay fills it). */
  maxPending: number;
}

export class RoomFeed {
  /** Local members (Adapter.addMember calls not yet removed). */
  refs = 0;
  private epoch: string | undefined;
  private last = 0;
  /** Until the position after subscribing is known, messages wait. */
  private positioned = false;
  private filling = false;
  private pending: RoomMessage[] = [];

  constructor(
    readonly room: string,
    private readonly deps: FeedDeps,
  ) {}

  /** Where the room stood right after this node subscribed: what comes after it is live. */
  position(epoch: string, head: number): void {
    this.epoch = epoch;
    this.last = head;
    this.positioned = true;
    this.pump();
  }

  /** Positions the feed (see position) unless it already is: any read made after subscribing will do. */
  positionOnce(epoch: string, head: number): void {
    if (!this.positioned) this.position(epoch, head);
  }

  /** A room message from the channel (volatile ones are passed on at once). */
  receive(message: RoomMessage): void {
    if (message.mid === 0) {
      this.deps.deliver(message);
      return;
    }
    if (this.pending.length >= this.deps.maxPending) {
      this.pending.length = 0;
      this.deps.forceResume(this.room, this.epoch ?? '');
      this.positioned = false;
      this.catchUp();
      return;
    }
    this.pending.push(message);
    this.pump();
  }

  /** Reads what came after the last id passed on (after a reconnect, and on each heartbeat). */
  catchUp(): void {
    if (this.filling) return;
    this.fill(Infinity);
  }

  /** The heartbeat read the room's head: behind it, something was missed. */
  checkHead(head: number, epoch: string | null): void {
    if (!this.positioned || this.filling) return;
    if (head > this.last || (epoch !== null && epoch !== this.epoch)) this.catchUp();
  }

  private pump(): void {
    while (this.positioned && !this.filling && this.pending.length > 0) {
      const message = this.pending[0]!;
      if (message.epoch !== this.epoch) {
        if (message.mid === 1) {
          // A new run of ids from the start: passed on as it is (the hub closes the members of
          // the old one, whose resume gets the reset).
          this.epoch = message.epoch;
          this.last = 0;
        } else {
          // The room moved to a server that may lack its last messages (its ids go on from
          // its head, in a new epoch), or ids of a new run were missed: the history script
          // says which, from this node's position (a reset, or what follows it).
          this.fill(message.mid - 1);
          return;
        }
      }
      if (message.mid <= this.last) {
        this.pending.shift();
        continue;
      }
      if (message.mid === this.last + 1) {
        this.pending.shift();
        this.last = message.mid;
        this.deps.deliver(message);
        continue;
      }
      this.fill(message.mid - 1);
    }
  }

  /** Reads ids last+1..upTo (or to the head) from the stream and passes them on, then resumes the queue. */
  private fill(upTo: number): void {
    this.filling = true;
    const since = this.last;
    const wasPositioned = this.positioned;
    const epoch = wasPositioned ? this.epoch : undefined;
    this.deps
      .readAfter(this.room, since, epoch)
      .then((found) => {
        if (!wasPositioned || !this.positioned) {
          // Unless a join's script positioned it meanwhile (from a read as good as this one).
          this.positionOnce(found.epoch, found.head);
          return;
        }
        if (found.reset) {
          // The sequence this node was following is gone: members resume into the new one, and
          // what waits here of the old one is dropped.
          this.deps.forceResume(this.room, found.epoch);
          this.epoch = found.epoch;
          this.last = found.head;
          this.pending = this.pending.filter((m) => m.epoch === found.epoch);
          return;
        }
        // The epoch may have changed with the ids going on (the room moved to another server).
        this.epoch = found.epoch;
        this.pending = this.pending.filter((m) => m.epoch === found.epoch);
        let next = since + 1;
        for (const message of found.messages) {
          if (message.mid < next) continue;
          if (message.mid > upTo) break;
          if (message.mid !== next) {
            // Trimmed (count or age) before it could be read: members resume and get a `gap`.
            this.deps.forceResume(this.room, found.epoch);
            next = found.head + 1;
            break;
          }
          this.deps.deliver(message);
          next++;
        }
        if (next <= Math.min(upTo, found.head)) this.deps.forceResume(this.room, found.epoch);
        this.last = Math.max(this.last, Math.min(upTo, found.head));
      })
      .then(
        () => {
          this.filling = false;
          this.pump();
        },
        (error: unknown) => {
          // Redis unreachable: tried again shortly (or at the reconnect, or the next heartbeat).
          this.deps.reportError(error);
          setTimeout(() => {
            this.filling = false;
            if (this.positioned) this.pump();
            else this.catchUp();
          }, RETRY_DELAY).unref();
        },
      );
  }
}
