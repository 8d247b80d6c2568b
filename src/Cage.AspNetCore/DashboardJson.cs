using System.Globalization;
using System.Text.Json;
using CageNet.Ledger;
using CageNet.Views;

namespace CageNet.AspNetCore;

/// <summary>The JSON of the dashboard's own views (the time series and the recent calls), in the CLI's conventions.</summary>
internal static class DashboardJson
{
    /// <summary>
    /// <c>{"bucket", "by", "since", "until", "buckets": [start…], "series": [{"key", "usd": […], "calls": […],
    /// "total_usd"}…], "total": {"calls", "usd", "unpriced_calls", "missing_usage_calls"}}</c>, the series most
    /// expensive first; <c>total</c> is the window's as <c>cage report --json</c> gives it.
    /// </summary>
    public static string Series(SpendSeries series) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("bucket", series.Hourly ? "hour" : "day");
        w.WriteString("by", CageViews.Dimensions.First(d => d.Value == series.By).Key);
        w.WriteStringOrNull("since", series.Window.Since is { } since ? Instant(since) : null);
        w.WriteStringOrNull("until", series.Window.Until is { } until ? Instant(until) : null);
        w.WriteStringArray("buckets", series.Buckets.Select(Instant));
        w.WriteStartArray("series");
        foreach (var group in series.Groups)
        {
            w.WriteStartObject();
            w.WriteString("key", group.Key);
            w.WriteStartArray("usd");
            foreach (var usd in group.Usd)
            {
                w.WriteNumberValue(JsonOutput.Normalize(usd));
            }

            w.WriteEndArray();
            w.WriteStartArray("calls");
            foreach (var calls in group.Calls)
            {
                w.WriteNumberValue(calls);
            }

            w.WriteEndArray();
            w.WriteDecimal("total_usd", group.TotalUsd);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("total");
        w.WriteNumber("calls", series.Total.Calls);
        w.WriteDecimal("usd", series.Total.CostUsd);
        w.WriteNumber("unpriced_calls", series.Total.UnpricedCalls);
        w.WriteNumber("missing_usage_calls", series.Total.MissingUsageCalls);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary><c>{"calls": [{"id", "ts", labels, token buckets, "cost_usd", "cost_source", "usage_status", "latency_ms", "ok"}…]}</c>, newest first.</summary>
    public static string Calls(IReadOnlyList<CallRecord> calls) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("calls");
        foreach (var call in calls)
        {
            WriteCall(w, call);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    private static void WriteCall(Utf8JsonWriter w, CallRecord call)
    {
        w.WriteStartObject();
        w.WriteString("id", call.Id);
        w.WriteString("ts", Instant(call.Timestamp));
        w.WriteString("provider", call.Provider);
        w.WriteString("model", call.Model);
        w.WriteStringOrNull("route", call.Route);
        w.WriteStringOrNull("agent", call.Agent);
        w.WriteStringOrNull("task", call.Task);
        w.WriteStringOrNull("session", call.Session);
        w.WriteStringOrNull("user", call.User);
        w.WriteStringOrNull("category", call.Category);
        w.WriteNumber("input", call.Usage.Input);
        w.WriteNumber("cache_read", call.Usage.CacheRead);
        w.WriteNumber("cache_write_5m", call.Usage.CacheWrite5m);
        w.WriteNumber("cache_write_1h", call.Usage.CacheWrite1h);
        w.WriteNumber("output", call.Usage.Output);
        w.WriteDecimal("cost_usd", call.CostUsd);
        w.WriteString("cost_source", call.CostSource.ToWire());
        w.WriteString("usage_status", call.UsageStatus.ToWire());
        w.WriteNumber("latency_ms", call.LatencyMs);
        w.WriteBoolean("ok", call.Ok);
        w.WriteEndObject();
    }

    private static string Instant(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
