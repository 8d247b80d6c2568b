using System.Diagnostics.CodeAnalysis;
using System.Net;
using CageNet.Budgets;
using CageNet.Budgets.Subscription;
using CageNet.Protocols;

namespace CageNet.Http;

/// <summary>
/// One metered round-trip: the child scope it is recorded in, the budget reservation, and the observer that reads the
/// response body as the caller consumes it. Records exactly once: at the end of the body, when the caller disposes it,
/// or when the request fails.
/// </summary>
internal sealed class MeteredExchange
{
    private readonly CageMeteringHandler _owner;
    private readonly MeterScope _scope;
    private readonly WireProtocol _protocol;
    private readonly string? _requestedModel;
    private readonly string _host;
    private WireStreamObserver? _observer;
    private string? _headerRequestId;
    private List<KeyValuePair<string, string>>? _utilizationHeaders;
    private bool _success = true;
    private BudgetReservation? _reservation;
    private readonly RequestFacts _facts;
    private int _finished;

    public MeteredExchange(CageMeteringHandler owner, MeterScope scope, WireProtocol protocol, string? requestedModel, bool stream, in RequestFacts facts, string host)
    {
        _owner = owner;
        _scope = scope;
        _protocol = protocol;
        _requestedModel = requestedModel;
        Streaming = stream;
        _facts = facts;
        _host = host;
    }

    public bool Streaming { get; }

    public string Provider => WireProviders.Name(_protocol);

    public string? RequestedModel => _requestedModel;

    public MeterScope Scope => _scope;

    /// <summary>Reserves an estimate against the budget before the request is sent (this process's counters only).</summary>
    /// <exception cref="BudgetExceededException">A blocking budget refuses the call; nothing is sent.</exception>
    public void Admit(CancellationToken cancellationToken)
    {
        if (Estimate(cancellationToken) is not { } estimate)
        {
            return;
        }

        try
        {
            if (_owner.Budget!.TryReserve(_scope, estimate.Usd, estimate.Tokens, out _reservation, out var refusal))
            {
                return;
            }

            Refuse(refusal);
        }
#pragma warning disable CA1031 // Fail-open: the guard itself decides fail-closed; anything unexpected lets the call go.
        catch (Exception ex) when (ex is not BudgetExceededException)
#pragma warning restore CA1031
        {
            Log.BudgetCheckFailed(_owner.Logger, ex, _host);
        }
    }

    /// <summary>Reserves an estimate before the request is sent, across the fleet when the guard shares its budgets.</summary>
    /// <exception cref="BudgetExceededException">A blocking budget refuses the call; nothing is sent.</exception>
    public async ValueTask AdmitAsync(CancellationToken cancellationToken)
    {
        if (Estimate(cancellationToken) is not { } estimate)
        {
            return;
        }

        BudgetAdmission admission;
        try
        {
            admission = await _owner.Budget!.TryReserveAsync(_scope, estimate.Usd, estimate.Tokens, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // As above; a cancellation is the caller's.
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            Log.BudgetCheckFailed(_owner.Logger, ex, _host);
            return;
        }
        catch (OperationCanceledException)
        {
            Finish(record: false); // nothing was sent
            throw;
        }

        if (admission.Admitted)
        {
            _reservation = admission.Reservation;
            return;
        }

        Refuse(admission.Refusal);
    }

    // The estimate to reserve, or null with no budget (or when it cannot be made: fail-open, logged).
    private (decimal Usd, long Tokens)? Estimate(CancellationToken cancellationToken)
    {
        if (_owner.Budget is null)
        {
            return null;
        }

        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            // A rough estimate: ~4 request bytes per input token, the request's output cap or 1024 output tokens.
            var estimate = new TokenUsage((_facts.Bytes + 3) / 4, Output: _facts.MaxOutputTokens ?? 1024);
            return (_owner.Meter.Prices.Price(Provider, _requestedModel ?? "", estimate).CostUsd ?? 0m, estimate.TotalTokens);
        }
#pragma warning disable CA1031 // Fail-open, as above.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.BudgetCheckFailed(_owner.Logger, ex, _host);
            return null;
        }
    }

    [DoesNotReturn]
    private void Refuse(BudgetRefusal refusal)
    {
        Finish(record: false);
        throw new BudgetExceededException(refusal);
    }

    /// <summary>Hooks the response: headers are read now, the body as the caller reads it.</summary>
    public HttpResponseMessage Attach(HttpResponseMessage response)
    {
        try
        {
            _success = response.IsSuccessStatusCode;
            _headerRequestId = RequestIdHeaders.From(response.Headers);
            if (_owner.Budget is not null)
            {
                foreach (var header in response.Headers)
                {
                    if (header.Key.StartsWith(AnthropicUnifiedHeaders.Prefix, StringComparison.OrdinalIgnoreCase))
                    {
                        (_utilizationHeaders ??= []).Add(new(header.Key, string.Join(',', header.Value)));
                    }
                }
            }
            if (response.Content is null || response.StatusCode == HttpStatusCode.NoContent)
            {
                Finish(record: true);
                return response;
            }

            _observer = new WireStreamObserver(_protocol, _owner.WireOptions);
            var metered = new MeteredContent(response.Content, this);
            response.Content = metered;
        }
#pragma warning disable CA1031 // Fail-open: the caller gets the response whatever happens here.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MeteringFailed(_owner.Logger, ex, _host);
            Finish(record: false);
        }

        return response;
    }

    /// <summary>Feeds bytes the caller just read. Never throws.</summary>
    public void Observe(ReadOnlySpan<byte> chunk)
    {
        if (Volatile.Read(ref _finished) != 0 || _observer is null)
        {
            return;
        }

        try
        {
            _observer.Observe(chunk);
        }
#pragma warning disable CA1031 // Fail-open: stop observing, keep passing bytes.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MeteringFailed(_owner.Logger, ex, _host);
            Finish(record: true);
        }
    }

    /// <summary>The body ended, or the caller disposed it (possibly before its end), or reading it failed.</summary>
    public void Complete() => Finish(record: true);

    /// <summary>The request failed before a response: nothing was billed, the reservation is released.</summary>
    public void Abandon() => Finish(record: false);

    private void Finish(bool record)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }

        WireUsage? usage = null;
        try
        {
            if (record && _observer is not null)
            {
                usage = _observer.Complete();
            }
        }
#pragma warning disable CA1031 // Fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MeteringFailed(_owner.Logger, ex, _host);
        }
        finally
        {
            _observer?.Dispose();
        }

        TokenUsage? billed = null;
        decimal? cost = null;
        try
        {
            // A failed status without reported usage was not billed (401, 429, 500): no call is recorded.
            if (record && usage is not null && (_success || usage.Status == UsageStatus.Reported))
            {
                var provider = usage.Provider.Length > 0 ? usage.Provider : Provider;
                var model = usage.Model.Length > 0 ? usage.Model : _requestedModel ?? "unknown";
                if (usage.Status != UsageStatus.Reported)
                {
                    // The usage never arrived: the record's cost is unknown, and the budget is charged for what was seen
                    // (the request's size, the text received), priced at the served model, before the record could
                    // settle the reservation at its estimate.
                    billed = Seen(usage);
                    cost = _owner.Meter.Prices.Price(provider, model, billed.Value, usage.ProviderCost, usage.ServiceTier).CostUsd;
                    SettleReservation(billed, cost);
                }

                if (_success && (usage.ResponseId is not null || _headerRequestId is null))
                {
                    _scope.Usage(usage, model);
                }
                else
                {
                    // An HTTP error that was still billed, or a body without an id: the status and the header id count.
                    var ok = _success && usage.Ok && usage.Status == UsageStatus.Reported;
                    var error = !_success ? "http_error" : usage.Error ?? usage.Problem;
                    _scope.Usage(provider, model, usage.Usage, usage.ProviderCost, usage.ResponseId ?? _headerRequestId, ok, usage.Status, error);
                }

                Log.Metered(_owner.Logger, provider, model, usage.Status, usage.Problem);
                if (billed is null)
                {
                    billed = usage.Usage;
                    cost = _owner.Meter.Prices.Price(provider, model, usage.Usage, usage.ProviderCost, usage.ServiceTier).CostUsd;
                }
            }
        }
#pragma warning disable CA1031 // Fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MeteringFailed(_owner.Logger, ex, _host);
        }

        // Settle before the scope is disposed: disposing it releases a reservation still bound to it with nothing billed.
        SettleReservation(billed, cost);
        ObserveUtilization();
        SafeDispose();
    }

    /// <summary>
    /// What a response whose usage never arrived consumed at least: the tokens reported before the cut, the request's
    /// size (~4 bytes a token) as input and the generated text seen (~4 bytes a token) as output.
    /// </summary>
    private TokenUsage Seen(WireUsage usage)
    {
        var reported = usage.Usage;
        var requestTokens = (_facts.Bytes + 3) / 4;
        var textTokens = (usage.TextBytes + 3) / 4;
        return reported with
        {
            Input = reported.Input + Math.Max(0, requestTokens - reported.PromptTokens),
            Output = Math.Max(reported.Output, textTokens),
        };
    }

    /// <summary>Settles the reservation (a meter wired to the guard has usually done so already; this covers one that is not).</summary>
    private void SettleReservation(TokenUsage? billed, decimal? cost)
    {
        var reservation = _reservation;
        _reservation = null;
        try
        {
            if (reservation is { State: BudgetReservationState.Open })
            {
                if (billed is { } tokens)
                {
                    reservation.Settle(cost, tokens.TotalTokens);
                }
                else
                {
                    reservation.Release();
                }
            }
        }
#pragma warning disable CA1031 // Fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MeteringFailed(_owner.Logger, ex, _host);
        }
    }

    private void ObserveUtilization()
    {
        try
        {
            if (_utilizationHeaders is { } headers && _owner.Budget is { } guard)
            {
                foreach (var sample in AnthropicUnifiedHeaders.Parse(headers, _owner.Meter.TimeProvider.GetUtcNow()))
                {
                    guard.Estimator.Observe(sample);
                }
            }
        }
#pragma warning disable CA1031 // Fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MeteringFailed(_owner.Logger, ex, _host);
        }
    }

    private void SafeDispose()
    {
        try
        {
            _scope.Dispose();
        }
#pragma warning disable CA1031 // Fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MeteringFailed(_owner.Logger, ex, _host);
        }
    }
}
