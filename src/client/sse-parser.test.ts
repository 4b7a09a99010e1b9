import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type SseMessage, SseParser } from './sse-parser.js';

function parseAll(chunks: readonly string[]): { messages: SseMessage[]; parser: SseParser } {
  const messages: SseMessage[] = [];
  const parser = new SseParser((m) => messages.push(m));
  for (const c of chunks) parser.feed(c);
  return { messages, parser };
}

describe('SseParser', () => {
  it('dispatches events on a blank line with id, event and data', () => {
    const { messages } = parseAll(['retry: 2000\n: connected\n\n', 'id: 7\nevent: change\ndata: {"a":1}\n\n']);
    assert.deepEqual(messages, [{ event: 'change', data: '{"a":1}', lastEventId: '7' }]);
  });

  it('joins multi-line data and defaults the event type to message', () => {
    const { messages } = parseAll(['data: one\ndata: two\n\n']);
    assert.deepEqual(messages, [{ event: 'message', data: 'one\ntwo', lastEventId: '' }]);
  });

  it('handles any chunking, including CRLF split across chunks', () => {
    const text = 'id: 1\r\nevent: change\r\ndata: x\r\n\r\nid: 2\revent: change\rdata: y\r\r';
    for (let size = 1; size <= text.length; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      const { messages } = parseAll(chunks);
      assert.deepEqual(
        messages.map((m) => [m.lastEventId, m.data]),
        [
          ['1', 'x'],
          ['2', 'y'],
        ],
        `chunk size ${size}`,
      );
    }
  });

  it('keeps the last id and the retry delay; ignores comments and events without data', () => {
    const { messages, parser } = parseAll([': keep-alive\n\nid: 9\n\nretry: 500\nretry: soon\n\n']);
    assert.deepEqual(messages, []);
    assert.equal(parser.lastEventId, '9');
    assert.equal(parser.retryMs, 500);
  });

  it('does not dispatch an incomplete event', () => {
    const { messages } = parseAll(['event: change\ndata: x\n']);
    assert.deepEqual(messages, []);
  });
});
