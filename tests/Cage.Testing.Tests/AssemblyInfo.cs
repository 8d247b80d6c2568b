// The kit's own proof of isolation: every test runs in parallel with every other (issue #18), each on a fixture
// instance of its own (so [SetUp] fields are per test).
[assembly: Parallelizable(ParallelScope.All)]
[assembly: FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
[assembly: LevelOfParallelism(8)]
