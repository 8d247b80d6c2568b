using System.Text.RegularExpressions;
using CageNet.Budgets;
using Microsoft.Extensions.Logging;

namespace CageNet.Testing;

/// <summary>
/// Collects a test's budget events through the guard's public surface: its <see cref="BudgetGuard.Warning"/> event, and
/// its refusal log line (event 1102, "Cage budget refused a call"), read from a logger the context gives only to its guard.
/// </summary>
internal sealed partial class BudgetEventLog(TimeProvider clock) : ILoggerFactory, ILogger
{
    /// <summary>The guard's refusal log event (<c>BudgetLog.Refused</c>).</summary>
    private const int RefusedEventId = 1102;

    private readonly object _gate = new();
    private readonly List<BudgetEvent> _events = [];

    public IReadOnlyList<BudgetEvent> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public void OnWarning(object? sender, BudgetWarningEventArgs e) => Add(new BudgetEvent(BudgetEventKind.Warning, e.Node, e.Message, clock.GetUtcNow()));

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id != RefusedEventId)
        {
            return;
        }

        var message = state is IReadOnlyList<KeyValuePair<string, object?>> values
            && values.FirstOrDefault(v => v.Key == "Message").Value is string text ? text : formatter(state, exception);
        var node = NodeOf().Match(message) is { Success: true } m ? m.Groups["node"].Value : null;
        Add(new BudgetEvent(BudgetEventKind.Refusal, node, message, clock.GetUtcNow()));
    }

    private void Add(BudgetEvent e)
    {
        lock (_gate)
        {
            _events.Add(e);
        }
    }

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    [GeneratedRegex("^budget '(?<node>[^']+)'", RegexOptions.CultureInvariant)]
    private static partial Regex NodeOf();
}
