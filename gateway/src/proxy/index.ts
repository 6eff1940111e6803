export { openUpstream, type UpstreamResult, type UpstreamOptions } from './upstream.js';
export { Splice } from './splice.js';
export { loadNativeSplice } from './native-splice.js';
export { makeSplice, type ProxyCore } from './make-splice.js';
export type { SpliceEnd, SpliceEndHandler, Spliced } from './spliced.js';
export { FrameBoundaryTracker, closeFrame } from './frame-boundary.js';
