import { latencyBound } from './latency-bound.js';
console.log(JSON.stringify(await latencyBound(), null, 1));
