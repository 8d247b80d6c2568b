using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.DependencyInjection;

public sealed class SqliteLedgerServiceCollectionExtensionsTests
{
    private string _folder = null!;

    [SetUp]
    public void SetUp() => _folder = TestLedger.NewFolder();

    [TearDown]
    public void TearDown() => TestLedger.DeleteFolder(_folder);

    [Test]
    public async Task AddSqliteLedger_AfterAddCage_ResolvesOneLedgerAsStoreSinkAndReader()
    {
        var path = Path.Combine(_folder, "app", "ledger.db");
        var services = new ServiceCollection();
        services.AddCage().AddSqliteLedger(options => options.Path = path);

        SqliteLedger ledger;
        await using (var provider = services.BuildServiceProvider())
        {
            ledger = provider.GetRequiredService<SqliteLedger>();
            Assert.That(ledger.Path, Is.EqualTo(path));
            Assert.That(provider.GetRequiredService<ILedgerStore>(), Is.SameAs(ledger));
            Assert.That(provider.GetRequiredService<ILedgerSink>(), Is.Not.Null, "the sink writes into the same ledger (checked below)");
            Assert.That(provider.GetRequiredService<ILedgerReader>(), Is.SameAs(ledger));
            Assert.That(services.Count(d => d.ServiceType == typeof(ILedgerStore)), Is.EqualTo(1));
            Assert.That(services.Count(d => d.ServiceType == typeof(ILedgerSink)), Is.EqualTo(1));
            Assert.That(services.Count(d => d.ServiceType == typeof(ILedgerReader)), Is.EqualTo(1));
            await provider.GetRequiredService<ILedgerSink>().WriteAsync(Batch(Call("c_1")));
        }

        Assert.ThrowsAsync<ObjectDisposedException>(async () => await ledger.FindCallAsync("c_1"), "the provider closes the ledger");
        using var reopened = SqliteLedger.Open(path);
        Assert.That(await reopened.FindCallAsync("c_1"), Is.Not.Null);
    }

    [Test]
    public void AddSqliteLedger_CalledTwice_TheLastOptionsWin()
    {
        var services = new ServiceCollection();
        var builder = services.AddCage();
        builder.AddSqliteLedger(options => options.Path = Path.Combine(_folder, "first.db"));
        builder.AddSqliteLedger(options => options.Path = Path.Combine(_folder, "second.db"));

        using var provider = services.BuildServiceProvider();

        Assert.That(provider.GetRequiredService<ILedgerStore>(), Is.InstanceOf<SqliteLedger>()
            .With.Property(nameof(SqliteLedger.Path)).EqualTo(Path.Combine(_folder, "second.db")));
        Assert.That(File.Exists(Path.Combine(_folder, "first.db")), Is.False);
    }
}
