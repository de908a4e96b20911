// The worker's side of the rate budget (src/engine/worker/rate-gate-port.ts):
// requests skip the grant round trip while the key is free, and a 429 holds
// the worker (its next requests ask for a grant) until the main thread, which
// answers every 429 with the key's mode, says it is still free (issue 8c).

import { expect } from 'chai';
import { PortRateGate } from '../../src/engine/worker/rate-gate-port.js';
import type { WorkerMessage } from '../../src/engine/shared/worker-protocol.js';

function gate(): { gate: PortRateGate; sent: WorkerMessage[] } {
  const sent: WorkerMessage[] = [];
  const g = new PortRateGate('a', (m) => sent.push(m), new AbortController().signal);
  return { gate: g, sent };
}

const asked = (sent: WorkerMessage[]): number => sent.filter((m) => m.type === 'rate-acquire').length;

describe('PortRateGate', () => {
  it('while the key is free, requests go without asking', async () => {
    const { gate: g, sent } = gate();
    g.setFree(true);
    await g.acquire();
    await g.acquire();
    expect(asked(sent)).to.equal(0);
  });

  it('a 429 holds the worker: its next request asks for a grant, until the main thread says the key is still free', async () => {
    const { gate: g, sent } = gate();
    g.setFree(true);
    g.observe({ status: 429, headers: {}, retryAfterSeconds: 1 });
    expect(sent.filter((m) => m.type === 'rate-observe'), 'the 429 went to the budget at once').to.have.length(1);
    let granted = false;
    const held = g.acquire().then(() => (granted = true));
    expect(asked(sent), 'held: asks instead of going').to.equal(1);
    await Promise.resolve();
    expect(granted).to.equal(false);
    const req = sent.find((m) => m.type === 'rate-acquire');
    g.grant((req as { id: number }).id);
    await held;
    expect(granted).to.equal(true);
    // The main thread's answer to the 429: the key is still free (the 429 was isolated).
    g.setFree(true);
    await g.acquire();
    expect(asked(sent), 'free again: no more asking').to.equal(1);
  });

  it('plain answers do not hold the worker', async () => {
    const { gate: g, sent } = gate();
    g.setFree(true);
    for (let i = 0; i < 5; i++) g.observe({ status: 200, headers: {} });
    g.observe({ status: null, headers: {} });
    await g.acquire();
    expect(asked(sent)).to.equal(0);
  });
});
