using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;

namespace CageNet;

/// <summary>
/// The static metering facade: <c>using var m = Cage.Meter("code-edit");</c>. It uses the meter a host
/// configured (through <c>services.AddCage()</c> or <see cref="Use"/>), or else an embedded default: a SQLite
/// ledger in <c>.cage/</c> when the <c>Cage.Ledger</c> package is referenced, an in-memory ledger otherwise.
/// </summary>
public static class Cage
{
    private static readonly object Gate = new();
    private static readonly AsyncLocal<ICageMeter?> s_flowLocal = new();
    private static ICageMeter? s_configured;
    private static ICageMeter? s_embedded;
    private static Func<ICageMeter>? s_embeddedFactory;

    /// <summary>
    /// The meter behind the facade: one bound to the current async flow (a test's own meter, see <c>Cage.Testing</c>),
    /// else the configured one, else the embedded default (created on first use).
    /// </summary>
    public static ICageMeter Instance => s_flowLocal.Value ?? Volatile.Read(ref s_configured) ?? Embedded();

    /// <summary>The innermost open scope on this async flow, or <see langword="null"/>.</summary>
    public static MeterScope? Current => MeterScope.Current;

    /// <summary>Opens an ambient metering scope on <see cref="Instance"/> (see <see cref="ICageMeter.Meter"/>).</summary>
    /// <param name="route">The feature or intent.</param>
    /// <param name="task">The unit of work.</param>
    /// <param name="session">The conversation or run.</param>
    /// <param name="agent">The agent.</param>
    /// <param name="user">The end user or tenant.</param>
    /// <param name="category">The call-site kind.</param>
    /// <returns>The scope; dispose it to record its calls.</returns>
    public static MeterScope Meter(string route, string? task = null, string? session = null, string? agent = null, string? user = null, string? category = null) =>
        Instance.Meter(route, task, session, agent, user, category);

    /// <summary>Records a tool's saving on <see cref="Instance"/> (see <see cref="ICageMeter.RecordReceipt"/>); inside a scope it defaults to the scope's call and task.</summary>
    /// <param name="tool">The tool name.</param>
    /// <param name="rawAlternative">What it would have been without the tool.</param>
    /// <param name="actual">What it was with the tool.</param>
    /// <param name="call">The call id; defaults to the current scope's call.</param>
    /// <param name="task">The task; defaults to the current scope's task.</param>
    /// <param name="unit">The unit; default tokens.</param>
    /// <param name="method">How it is known; default modeled.</param>
    /// <param name="confidence">0..1; default 1.</param>
    /// <param name="meta">Small metadata.</param>
    /// <returns>The recorded receipt.</returns>
    /// <exception cref="CageValidationException">A field is invalid.</exception>
    public static SavingsReceipt RecordReceipt(string tool, decimal rawAlternative, decimal actual, string? call = null, string? task = null, SavingsUnit unit = SavingsUnit.Tokens, SavingsMethod method = SavingsMethod.Modeled, double confidence = 1.0, IReadOnlyDictionary<string, string>? meta = null) =>
        Instance.RecordReceipt(tool, rawAlternative, actual, call, task, unit, method, confidence, meta);

    /// <summary>Waits until everything metered so far through <see cref="Instance"/> is committed or dropped, and says which (see <see cref="ICageMeter.FlushAsync"/>).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>What was written and dropped since the previous flush.</returns>
    public static ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => Instance.FlushAsync(cancellationToken);

    /// <summary>Makes <paramref name="meter"/> the instance behind the facade (pass <see langword="null"/> to go back to the embedded default).</summary>
    /// <param name="meter">The meter.</param>
    public static void Use(ICageMeter? meter) => Volatile.Write(ref s_configured, meter);

    /// <summary>
    /// Binds <paramref name="meter"/> to the current async flow: <see cref="Instance"/> returns it on this flow and the
    /// flows it starts (tasks, awaits), and nowhere else, so parallel tests each see their own meter. Dispose the result
    /// to restore what the flow had before. Used by <c>Cage.Testing</c>'s <c>CageTestContext</c>.
    /// </summary>
    internal static FlowBinding BindToFlow(ICageMeter? meter)
    {
        var previous = s_flowLocal.Value;
        s_flowLocal.Value = meter;
        return new FlowBinding(meter, previous);
    }

    /// <summary>The meter bound to the current async flow by <see cref="BindToFlow"/>, or <see langword="null"/>.</summary>
    internal static ICageMeter? FlowBound => s_flowLocal.Value;

    /// <summary>Restores the flow's previous meter; only when the flow still has the one it bound (out-of-order disposal is harmless).</summary>
    internal readonly struct FlowBinding(ICageMeter? bound, ICageMeter? previous) : IDisposable
    {
        public void Dispose()
        {
            if (ReferenceEquals(s_flowLocal.Value, bound))
            {
                s_flowLocal.Value = previous;
            }
        }
    }

    internal static void TrySetDefault(ICageMeter meter) => Interlocked.CompareExchange(ref s_configured, meter, null);

    internal static void Forget(ICageMeter meter) => Interlocked.CompareExchange(ref s_configured, null, meter);

    /// <summary>Called by the Cage.Ledger module initializer to provide the embedded SQLite default.</summary>
    internal static void RegisterEmbeddedFactory(Func<ICageMeter> factory) => Volatile.Write(ref s_embeddedFactory, factory);

    private static ICageMeter Embedded()
    {
        if (Volatile.Read(ref s_embedded) is { } existing)
        {
            return existing;
        }

        lock (Gate)
        {
            if (s_embedded is not null)
            {
                return s_embedded;
            }

            if (s_embeddedFactory is null)
            {
                try
                {
                    // Loading an assembly does not run its module initializer (the runtime runs it on first access to the
                    // module), so run it explicitly: it registers the SQLite default.
                    var ledger = Assembly.Load(new AssemblyName("Cage.Ledger"));
                    RuntimeHelpers.RunModuleConstructor(ledger.ManifestModule.ModuleHandle);
                }
                catch (IOException)
                {
                    // Not referenced: fall back to the in-memory ledger below, loudly.
                }
            }

            ICageMeter meter;
            try
            {
                if (s_embeddedFactory is { } factory)
                {
                    meter = factory();
                }
                else
                {
                    WarnInMemory("the Cage.Ledger package is not referenced; reference it for a durable SQLite ledger in .cage/, or call Cage.Use(...)");
                    meter = CreateInMemoryDefault();
                }
            }
#pragma warning disable CA1031 // Fail-open: a broken default (bad CAGE_PRICES, bad policy) must not break Cage.Meter().
            catch (Exception ex)
#pragma warning restore CA1031
            {
                WarnInMemory($"the default ledger could not be set up ({ex.Message})");
                meter = CreateInMemoryDefault();
            }

            AppDomain.CurrentDomain.ProcessExit += (_, _) => DrainOnExit(meter);
            s_embedded = meter;
            return meter;
        }
    }

    /// <summary>
    /// Says, on stderr and in the trace log, that the facade meters into memory (records are lost at exit). The static
    /// facade has no <c>ILogger</c>: <see cref="Trace"/> is the log a host can listen to.
    /// </summary>
    internal static void WarnInMemory(string reason)
    {
        var message = $"cage: warning: metering in memory for this process, records are lost when it exits: {reason}";
        Console.Error.WriteLine(message);
        Trace.TraceWarning(message);
    }

    private static CageMeter CreateInMemoryDefault() =>
        new(new InMemoryLedger(), PriceCatalog.BuiltIn.WithLocalModels(["ollama/*"]), TimeProvider.System);

    private static void DrainOnExit(ICageMeter meter)
    {
        if (meter is CageMeter cm)
        {
            cm.DrainAsync(TimeSpan.FromSeconds(5)).AsTask().GetAwaiter().GetResult();
        }
    }
}
