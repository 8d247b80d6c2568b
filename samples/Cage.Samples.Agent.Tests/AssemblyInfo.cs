// Every test runs in parallel with the others, each on its own fixture instance: each test's CageTestContext keeps
// its calls to itself.
[assembly: Parallelizable(ParallelScope.All)]
[assembly: FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
