// The runner as the read verbs (status, events, logs) see it: records and their sizes, the Events'
// follower label, redaction and a bounded map. Kept apart from index.ts so that reading the state
// does not load the pass, its ports and the git mirror (about 0.2 s of start-up).

export { redactSecrets } from './adapters/redact.ts';
export { FOLLOWER_LABEL } from './events.ts';
export { mapLimit } from './limit.ts';
export { dataBytes } from './state-data.ts';
export { parseStateRecord, type StateRecord } from './state-record.ts';
