using Microsoft.Extensions.Options;

namespace CageNet.Configuration;

/// <summary>Validates <see cref="CageOptions"/> at start-up with messages that name the offending setting.</summary>
internal sealed class CageOptionsValidator : IValidateOptions<CageOptions>
{
    public ValidateOptionsResult Validate(string? name, CageOptions options)
    {
        var errors = Errors(options).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static IEnumerable<string> Errors(CageOptions options)
    {
        var m = options.Metering;
        if (m.QueueCapacity < 16) yield return $"Cage:Metering:QueueCapacity must be at least 16 (got {m.QueueCapacity})";
        if (m.MaxBatchSize < 1) yield return $"Cage:Metering:MaxBatchSize must be at least 1 (got {m.MaxBatchSize})";
        if (m.FullQueueWait < TimeSpan.Zero || m.FullQueueWait > TimeSpan.FromMinutes(10)) yield return $"Cage:Metering:FullQueueWait must be between 00:00:00 and 00:10:00 (got {m.FullQueueWait})";
        if (m.MaxRetries < 0) yield return $"Cage:Metering:MaxRetries must be >= 0 (got {m.MaxRetries})";
        if (m.SessionWarnAtUsd < 0) yield return $"Cage:Metering:SessionWarnAtUsd must be >= 0 (got {m.SessionWarnAtUsd})";
        if (m.SessionWarnAtTokens < 0) yield return $"Cage:Metering:SessionWarnAtTokens must be >= 0 (got {m.SessionWarnAtTokens})";

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Tools.Order.Count; i++)
        {
            var tool = options.Tools.Order[i];
            if (string.IsNullOrWhiteSpace(tool)) yield return $"Cage:Tools:Order:{i} is empty";
            else if (!seen.Add(tool)) yield return $"Cage:Tools:Order lists '{tool}' twice";
        }

        var p = options.Pricing;
        if (p.MapFile is { Length: > 0 } map && !File.Exists(Path.GetFullPath(map)))
        {
            yield return $"Cage:Pricing:MapFile '{map}' does not exist";
        }

        foreach (var (key, o) in p.Overrides)
        {
            if (string.IsNullOrWhiteSpace(key)) yield return "Cage:Pricing:Overrides has an empty model key";
            foreach (var (field, value) in new (string, decimal?)[] { ("Input", o.Input), ("Output", o.Output), ("CacheRead", o.CacheRead), ("CacheWrite5m", o.CacheWrite5m), ("CacheWrite1h", o.CacheWrite1h), ("Reasoning", o.Reasoning) })
            {
                if (value < 0) yield return $"Cage:Pricing:Overrides:{key}:{field} must be >= 0 (got {value})";
            }
        }

        for (var i = 0; i < p.LocalModels.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(p.LocalModels[i])) yield return $"Cage:Pricing:LocalModels:{i} is empty";
        }

        foreach (var (alias, target) in p.Aliases)
        {
            if (string.IsNullOrWhiteSpace(target)) yield return $"Cage:Pricing:Aliases:{alias} has no target";
        }
    }
}
