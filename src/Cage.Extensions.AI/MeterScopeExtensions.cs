using Microsoft.Extensions.AI;

namespace CageNet.Extensions.AI;

/// <summary>Reports Microsoft.Extensions.AI usage to a <see cref="MeterScope"/> (<c>m.Usage(provider, model, response.Usage)</c>).</summary>
public static class MeterScopeExtensions
{
    /// <summary>
    /// Reports one attempt's usage from a Microsoft.Extensions.AI <see cref="UsageDetails"/>, mapped to Cage's exclusive
    /// buckets exactly as <c>UseCage()</c> maps it: input = <see cref="UsageDetails.InputTokenCount"/> − cached − cache
    /// writes (never below 0); cache read = <see cref="UsageDetails.CachedInputTokenCount"/>; 5-minute and 1-hour cache
    /// writes from <see cref="UsageDetails.AdditionalCounts"/> (<c>cache_creation_input_tokens</c>,
    /// <c>ephemeral_1h_input_tokens</c>…); output = <see cref="UsageDetails.OutputTokenCount"/>; reasoning =
    /// <see cref="UsageDetails.ReasoningTokenCount"/> (a part of output, clamped to it). Negative counts read as 0.
    /// </summary>
    /// <remarks>
    /// A response that carried no usage (<paramref name="usage"/> is <see langword="null"/>) is recorded with
    /// <c>usage_status=missing</c> and an unknown cost, never as a free call (see <see cref="MeterScope.UsageMissing"/>).
    /// Use this when you call an <see cref="IChatClient"/> yourself inside <c>Cage.Meter(…)</c>; a client built with
    /// <c>UseCage()</c> already meters its calls, so do not report them a second time.
    /// </remarks>
    /// <param name="scope">The scope.</param>
    /// <param name="provider">The provider that served the attempt.</param>
    /// <param name="model">The model that actually served it (for example <c>ChatResponse.ModelId</c>).</param>
    /// <param name="usage">The usage (for example <c>ChatResponse.Usage</c>); <see langword="null"/> when none arrived.</param>
    /// <param name="providerCost">A cost the provider reported (wins over the catalog).</param>
    /// <param name="requestId">The provider's response id (for example <c>ChatResponse.ResponseId</c>): the idempotency key.</param>
    /// <exception cref="ArgumentNullException"><paramref name="scope"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The scope was disposed.</exception>
    public static void Usage(this MeterScope scope, string provider, string model, UsageDetails? usage, decimal? providerCost = null, string? requestId = null)
    {
        ArgumentNullException.ThrowIfNull(scope);
        if (usage is null)
        {
            scope.UsageMissing(provider, model, requestId, "the response carried no usage");
            return;
        }

        scope.Usage(provider, model, UsageMapping.ToTokenUsage(usage), providerCost, requestId);
    }
}
