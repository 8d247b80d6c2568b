using CageNet.Budgets;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Budgets;

internal static class BudgetTestKit
{
    /// <summary>Saturday 2026-06-20 12:00 UTC (the worked example's clock).</summary>
    public static readonly DateTimeOffset Saturday = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);

    public static FakeTimeProvider Clock(DateTimeOffset? at = null) => new(at ?? Saturday);

    public static BudgetGuard Guard(FakeTimeProvider time, Action<BudgetOptions> configure, IBudgetStore? store = null)
    {
        var options = new BudgetOptions();
        configure(options);
        return new BudgetGuard(options, time, store);
    }

    public static BudgetReservation Admit(this BudgetGuard guard, BudgetScope scope, decimal usd = 0m, long tokens = 0)
    {
        Assert.That(guard.TryReserve(scope, usd, tokens, out var reservation, out var refusal), Is.True, () => "refused: " + refusal?.Message);
        return reservation!;
    }

    public static BudgetRefusal Refuse(this BudgetGuard guard, BudgetScope scope, decimal usd = 0m, long tokens = 0)
    {
        Assert.That(guard.TryReserve(scope, usd, tokens, out _, out var refusal), Is.False, "expected a refusal");
        return refusal!;
    }

    public static BudgetNodeStatus Node(this BudgetGuard guard, string path) =>
        guard.GetStatus(path).Nodes.Single(n => n.Path == path);
}
