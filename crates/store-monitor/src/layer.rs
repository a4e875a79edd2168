//! The metrics layer: operation counters and latency histograms as a layer on the store's
//! Backend stack (in progress: not yet in this commit).
