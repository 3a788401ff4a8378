"""Running the platform's processes for tests and benchmarks: start the services and their helper servers
(SecantusDB) on free loopback ports, wait for them with one polling helper, feed prices the way the pooler
does. Not a service and not a test module: it may import `mesh`, never engine, gateway or pooler (it starts
them as processes), so both `tests/` and `bench/` can use it."""
