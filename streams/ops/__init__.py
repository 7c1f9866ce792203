"""The operators' and users' commands beside the worker: offline normalize and
fold, produce, tail, replay, rebuild, up, config, the broker in the foreground,
manifests and the benchmarks."""
