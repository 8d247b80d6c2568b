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
    public async Task FlushAsync_LedgerPathIsAFolder_ReportsEveryCallDroppedAndNoneWritten()
    {
        var path = Path.Combine(_folder, "a-folder");
        Directory.CreateDirectory(path);
        var services = new ServiceCollection();
        services.AddCage(o => { o.Metering.SetAsStaticDefault = false; o.Metering.MaxRetries = 0; }).AddSqliteLedger(options => options.Path = path);
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        for (var n = 0; n < 50; n++)
        {
            using var m = meter.Meter("chat");
            m.Usage("openai", "gpt-4o-mini", input: 100, output: 10);
        }

        var result = await meter.FlushAsync();

        Assert.That(result, Is.EqualTo(new FlushResult(Written: 0, Dropped: 50)));
        Assert.That(result.IsComplete, Is.False);
    }

    [Test]
    public async Task FlushAsync_ThrowOnFlushLossAndALedgerThatCannotOpen_ThrowsWithTheCounts()
    {
        var path = Path.Combine(_folder, "a-folder");
        Directory.CreateDirectory(path);
        var services = new ServiceCollection();
        services.AddCage(o =>
        {
            o.Metering.SetAsStaticDefault = false;
            o.Metering.MaxRetries = 0;
            o.Metering.ThrowOnFlushLoss = true;
        }).AddSqliteLedger(options => options.Path = path);
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        using (var m = meter.Meter("chat"))
        {
            m.Usage("openai", "gpt-4o-mini", input: 100, output: 10);
        }

        var ex = Assert.ThrowsAsync<MeteringLossException>(async () => await meter.FlushAsync());

        Assert.That(ex!.Result, Is.EqualTo(new FlushResult(0, 1)));
        Assert.That(ex.Message, Does.Contain("dropped 1"));
    }

    [Test]
    public async Task FlushAsync_WorkingLedger_CountsOnlyWhatCameSinceThePreviousFlush()
    {
        var services = new ServiceCollection();
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddSqliteLedger(options => options.Path = Path.Combine(_folder, "ledger.db"));
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        for (var n = 0; n < 3; n++)
        {
            using var m = meter.Meter("chat");
            m.Usage("openai", "gpt-4o-mini", input: 100, output: 10);
        }

        var first = await meter.FlushAsync();
        using (var m = meter.Meter("chat"))
        {
            m.Usage("openai", "gpt-4o-mini", input: 100, output: 10);
        }

        var second = await meter.FlushAsync();
        var third = await meter.FlushAsync();

        Assert.That((first, second, third), Is.EqualTo((new FlushResult(3, 0), new FlushResult(1, 0), new FlushResult(0, 0))));
    }

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
