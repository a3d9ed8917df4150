"""Tools around the product, not in its production path: the benchmarks (``bench*``) and the demo. They build
workers the way ``stormwatch serve`` does; nothing in the shell's production modules imports them."""
