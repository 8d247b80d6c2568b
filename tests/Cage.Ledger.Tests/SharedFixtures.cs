namespace CageNet.Tests;

/// <summary>The repository's fixtures (<c>tests/fixtures</c>).</summary>
internal static class SharedFixtures
{
    /// <summary>The worked example's input folder (it holds <c>.cage/ledger/calls.jsonl</c> and <c>receipts.jsonl</c>).</summary>
    public static string WorkedExampleInput => Path.Combine(CageNet.TestFixtures.RepositoryFixtures.WorkedExample, "input");
}
