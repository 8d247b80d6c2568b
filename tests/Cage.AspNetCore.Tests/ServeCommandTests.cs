namespace CageNet.AspNetCore.Tests;

/// <summary><c>cage serve</c>'s refusals, from the real process: exit 2 and a message naming what is wrong, nothing created.</summary>
public sealed class ServeCommandTests
{
    [Test]
    public async Task Serve_RefusesAMissingLedger_ABadPort_AndABadAddress()
    {
        var folder = Directory.CreateTempSubdirectory("cage-serve-");
        try
        {
            var missing = Path.Combine(folder.FullName, "none.db");
            var (exit, _, error) = await CageProcess.RunAsync(folder.FullName, "serve", "--ledger", missing, "--port", "0");
            Assert.That(exit, Is.EqualTo(2));
            Assert.That(error, Does.Contain($"no ledger at {missing}"));
            Assert.That(File.Exists(missing), Is.False, "nothing was created");

            (exit, _, error) = await CageProcess.RunAsync(folder.FullName, "serve", "--port", "70000");
            Assert.That((exit, error), Is.EqualTo((2, "cage: --port 70000 is not a TCP port (0 to 65535; 0 picks a free one)\n")));

            (exit, _, error) = await CageProcess.RunAsync(folder.FullName, "serve", "--listen", "the-moon");
            Assert.That(exit, Is.EqualTo(2));
            Assert.That(error, Does.Contain("--listen 'the-moon' is not an IP address"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
