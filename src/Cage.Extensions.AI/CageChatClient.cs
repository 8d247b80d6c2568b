using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using CageNet.Budgets;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CageNet.Extensions.AI;

/// <summary>
/// Meters every round-trip to the inner client (one call record each, credited to the model that served it) and
/// checks the budget before sending it. Placed inside <c>UseFunctionInvocation()</c>, it sees every turn of a tool loop.
/// Fail-open: a metering fault is logged and the call goes on; only a budget refusal stops a call.
/// </summary>
internal sealed class CageChatClient : DelegatingChatClient
{
    private readonly ICageMeter _meter;
    private readonly CageChatClientOptions _options;
    private readonly ILogger _logger;
    private readonly BudgetGuard? _budget;
    private ChatClientMetadata? _metadata;
    private bool _metadataResolved;

    public CageChatClient(IChatClient innerClient, ICageMeter meter, CageChatClientOptions options, BudgetGuard? budget = null, ILogger? logger = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentNullException.ThrowIfNull(options);
        _meter = meter;
        _options = options;
        _budget = budget;
        _logger = logger ?? NullLogger.Instance;
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var trip = Begin(options);
        if (trip is not null && await AdmitAsync(trip, messages, options, cancellationToken).ConfigureAwait(false) is { } refusal)
        {
            return RefusalResponse(refusal);
        }

        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            trip?.Failed();
            throw;
        }

        if (trip is not null)
        {
            trip.Completed(response.ModelId ?? options?.ModelId, response.ResponseId, response.Usage);
            if (trip.CallId is { } callId)
            {
                (response.AdditionalProperties ??= [])[CageChatProperties.CallId] = callId;
            }
        }

        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var trip = Begin(options);
        if (trip is not null && await AdmitAsync(trip, messages, options, cancellationToken).ConfigureAwait(false) is { } refusal)
        {
            foreach (var update in RefusalResponse(refusal).ToChatResponseUpdates())
            {
                yield return update;
            }

            yield break;
        }

        string? model = null;
        string? responseId = null;
        UsageDetails? usage = null;
        var completed = false;
        await using var stream = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await stream.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    update = stream.Current;
                    model = update.ModelId ?? model;
                    responseId = update.ResponseId ?? responseId;
                    foreach (var content in update.Contents)
                    {
                        if (content is UsageContent { Details: { } details })
                        {
                            if (usage is null)
                            {
                                usage = new UsageDetails();
                            }

                            usage.Add(details); // several usage contents in one stream add up, as in ToChatResponse()
                        }
                    }
                }
                catch
                {
                    trip?.Failed(model ?? options?.ModelId, responseId, usage);
                    throw;
                }

                yield return update;
            }

            completed = true;
        }
        finally
        {
            if (trip is not null)
            {
                if (completed)
                {
                    trip.Completed(model ?? options?.ModelId, responseId, usage);
                }
                else if (!trip.Recorded)
                {
                    // The consumer stopped early (break, cancellation): what was seen is billed; usage may be missing.
                    trip.Failed(model ?? options?.ModelId, responseId, usage, "stream abandoned by the caller");
                }
            }
        }
    }

    public override object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(CageChatClient) ? this : base.GetService(serviceType, serviceKey);

    private ChatClientMetadata? Metadata
    {
        get
        {
            if (!_metadataResolved)
            {
                try
                {
                    _metadata = InnerClient.GetService<ChatClientMetadata>();
                }
#pragma warning disable CA1031 // Fail-open: a client that throws from GetService still gets metered.
                catch (Exception)
#pragma warning restore CA1031
                {
                }

                _metadataResolved = true;
            }

            return _metadata;
        }
    }

    private RoundTrip? Begin(ChatOptions? options)
    {
        try
        {
            var props = options?.AdditionalProperties;
            var route = Label(props, CageChatProperties.Route) ?? MeterScope.Current?.Route ?? _options.DefaultRoute;
            var scope = _meter.Meter(
                route,
                Label(props, CageChatProperties.Task),
                Label(props, CageChatProperties.Session),
                Label(props, CageChatProperties.Agent),
                Label(props, CageChatProperties.User),
                Label(props, CageChatProperties.Category));
            scope.MetersRoundTrip = true;
            foreach (var (key, _) in props ?? [])
            {
                if (key.StartsWith(CageChatProperties.LabelPrefix, StringComparison.Ordinal) && key.Length > CageChatProperties.LabelPrefix.Length && Label(props, key) is { } label)
                {
                    scope.Tag(key[CageChatProperties.LabelPrefix.Length..], label); // cage.label.team → the label team (budget routing)
                }
            }

            var provider = _options.Provider ?? Metadata?.ProviderName ?? "unknown";
            return new RoundTrip(this, scope, provider, options?.ModelId ?? Metadata?.DefaultModelId);
        }
#pragma warning disable CA1031 // Fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MeteringFailed(_logger, ex);
            return null;
        }
    }

    private ValueTask<BudgetRefusal?> AdmitAsync(RoundTrip trip, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        if (_budget is null)
        {
            return default;
        }

        cancellationToken.ThrowIfCancellationRequested();
        ValueTask<BudgetAdmission> pending;
        try
        {
            var estimate = new TokenUsage(EstimateInputTokens(messages), Output: options?.MaxOutputTokens ?? _options.EstimatedOutputTokens);
            var usd = _meter.Prices.Price(trip.Provider, trip.RequestedModel ?? "", estimate).CostUsd ?? 0m;
            pending = _budget.TryReserveAsync(trip.Scope, usd, estimate.TotalTokens, cancellationToken);
        }
#pragma warning disable CA1031 // The guard decides fail-open vs fail-closed itself; an unexpected fault is fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.BudgetCheckFailed(_logger, ex);
            return default;
        }

        // In-process budgets decide synchronously; a fleet's shared reservations take a round trip.
        return pending.IsCompletedSuccessfully ? new ValueTask<BudgetRefusal?>(Admitted(trip, pending.Result)) : AwaitAdmissionAsync(trip, pending);
    }

    private async ValueTask<BudgetRefusal?> AwaitAdmissionAsync(RoundTrip trip, ValueTask<BudgetAdmission> pending)
    {
        BudgetAdmission admission;
        try
        {
            admission = await pending.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // As above: fail-open on the unexpected; a cancellation is the caller's.
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            Log.BudgetCheckFailed(_logger, ex);
            return null;
        }

        return Admitted(trip, admission);
    }

    private BudgetRefusal? Admitted(RoundTrip trip, BudgetAdmission admission)
    {
        if (admission.Admitted)
        {
            trip.Reservation = admission.Reservation;
            return null;
        }

        var refusal = admission.Refusal;
        trip.Refused();
        Log.BudgetRefused(_logger, refusal.Node, refusal.Spent.ToString(CultureInfo.InvariantCulture), refusal.Cap.ToString(CultureInfo.InvariantCulture));
        if (_options.ThrowOnBudgetExceeded)
        {
            throw new BudgetExceededException(refusal);
        }

        return refusal;
    }

    private static ChatResponse RefusalResponse(BudgetRefusal refusal)
    {
        var message = new ChatMessage(ChatRole.Assistant, refusal.Message);
        var properties = new AdditionalPropertiesDictionary
        {
            ["stop_reason"] = refusal.StopReason,
            ["budget_node"] = refusal.Node,
            ["budget_metric"] = refusal.Metric,
            ["budget_spent"] = refusal.Spent,
            ["budget_cap"] = refusal.Cap,
        };
        if (refusal.ResetsAt is { } resets)
        {
            properties["budget_resets_at"] = resets;
        }

        return new ChatResponse(message)
        {
            FinishReason = CageChatFinishReasons.BudgetExceeded,
            AdditionalProperties = properties,
        };
    }

    // A rough size estimate for the reservation: ~4 characters per token over the text parts. Nothing is stored.
    private static long EstimateInputTokens(IEnumerable<ChatMessage> messages)
    {
        long chars = 0;
        foreach (var message in messages)
        {
            foreach (var content in message.Contents)
            {
                chars += content switch
                {
                    TextContent text => text.Text?.Length ?? 0,
                    FunctionResultContent result => result.Result?.ToString()?.Length ?? 0,
                    FunctionCallContent call => 16 + (call.Arguments?.Count ?? 0) * 16,
                    _ => 0,
                };
            }
        }

        return (chars + 3) / 4;
    }

    internal static string? Label(AdditionalPropertiesDictionary? props, string key)
    {
        if (props is null || !props.TryGetValue(key, out var value))
        {
            return null;
        }

        var text = value switch
        {
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
            null => null,
            _ => value.ToString(),
        };
        return string.IsNullOrWhiteSpace(text) ? null : text;
    }

    /// <summary>One model round-trip: its child scope, its budget lease, and recording exactly once.</summary>
    private sealed class RoundTrip(CageChatClient owner, MeterScope scope, string provider, string? requestedModel) : IDisposable
    {
        public MeterScope Scope { get; } = scope;

        public string Provider { get; } = provider;

        public string? RequestedModel { get; } = requestedModel;

        public BudgetReservation? Reservation { get; set; }

        public bool Recorded { get; private set; }

        public string? CallId { get; private set; }

        public void Completed(string? model, string? responseId, UsageDetails? usage) =>
            Record(model, responseId, usage, ok: true, error: null);

        public void Failed(string? model = null, string? responseId = null, UsageDetails? usage = null, string? error = "the inner client threw")
        {
            if (usage is null && model is null && responseId is null)
            {
                // Nothing came back: the provider most likely billed nothing. Release the reservation, record no call.
                Recorded = true;
                Settle(null, 0);
                return;
            }

            Record(model, responseId, usage, ok: false, error);
        }

        public void Refused() => Recorded = true;

        private void Record(string? model, string? responseId, UsageDetails? usage, bool ok, string? error)
        {
            if (Recorded)
            {
                return;
            }

            Recorded = true;
            CallId = Scope.CallId;
            try
            {
                var served = model ?? RequestedModel ?? "unknown";
                if (usage is null)
                {
                    Scope.UsageMissing(Provider, served, responseId, ok ? "the response carried no usage" : error);
                }
                else
                {
                    var tokens = UsageMapping.ToTokenUsage(usage);
                    Scope.Usage(Provider, served, tokens, null, responseId, ok, UsageStatus.Reported, ok ? null : error);
                    // The meter settles a reservation bound to the scope; this covers a meter without the guard.
                    var cost = owner._meter.Prices.Price(Provider, served, tokens).CostUsd;
                    Settle(cost, tokens.TotalTokens);
                    return;
                }
            }
#pragma warning disable CA1031 // Fail-open.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.MeteringFailed(owner._logger, ex);
            }

            Settle(null, 0);
        }

        private void Settle(decimal? cost, long tokens)
        {
            var reservation = Reservation;
            Reservation = null;
            if (reservation is null || reservation.State != BudgetReservationState.Open)
            {
                return;
            }

            try
            {
                if (cost is null && tokens == 0)
                {
                    reservation.Release();
                }
                else
                {
                    reservation.Settle(cost, tokens);
                }
            }
#pragma warning disable CA1031 // Fail-open.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.MeteringFailed(owner._logger, ex);
            }
        }

        public void Dispose()
        {
            if (!Recorded)
            {
                Settle(null, 0);
            }

            try
            {
                Scope.Dispose();
            }
#pragma warning disable CA1031 // Fail-open.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.MeteringFailed(owner._logger, ex);
            }
        }
    }
}
