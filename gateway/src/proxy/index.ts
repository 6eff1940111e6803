export { openUpstream, type UpstreamResult, type UpstreamOptions } from './upstream.js';
export { Splice, type SpliceEnd } from './splice.js';
export { FrameBoundaryTracker, closeFrame } from './frame-boundary.js';
