using System.Text;

namespace CageNet.Fuzz.Tests;

/// <summary>
/// A small deterministic mutator: given a seed input and a <see cref="Random"/>, applies one to three mutations that
/// aim at what breaks parsers of provider payloads and logs: truncation, byte flips, inserted and deleted bytes, huge,
/// negative and non-finite numbers, deep nesting, broken encodings, line framing, SSE frame surgery and removed
/// usage. The same seed input and the same random sequence always give the same bytes.
/// </summary>
internal static class Mutator
{
    private static readonly string[] Numbers =
    [
        "0", "-0", "-1", "1.5", "1e308", "-1e308", "1e-400", "NaN", "Infinity", "-Infinity", "1E+2",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551616",
        "99999999999999999999999999999999", "4611686018427387904", "1000000001", "2147483648", "0x10", "00", "1_000",
        "79228162514264337593543950336", "0.000000000000000000000000000001",
    ];

    private static readonly byte[][] Fragments =
    [
        "{"u8.ToArray(), "}"u8.ToArray(), "["u8.ToArray(), "]"u8.ToArray(), "\""u8.ToArray(), ":"u8.ToArray(), ","u8.ToArray(),
        "\\"u8.ToArray(), "\\u"u8.ToArray(), "\\ud800"u8.ToArray(), "null"u8.ToArray(), "\"usage\":"u8.ToArray(), "\n"u8.ToArray(),
        "\r"u8.ToArray(), "\r\n"u8.ToArray(), "\0"u8.ToArray(), "data: "u8.ToArray(), "data: [DONE]\n\n"u8.ToArray(), ": ping\n"u8.ToArray(),
        "\n\n"u8.ToArray(), "event: error\n"u8.ToArray(), "#"u8.ToArray(), "="u8.ToArray(), "'''"u8.ToArray(), "\"\"\""u8.ToArray(),
        [0xFF], [0xFE], [0x80], [0xC0, 0x80], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82],
        [0xEF, 0xBB, 0xBF],
    ];

    private static readonly string[] UsageReplacements = ["null", "{}", "[]", "\"\"", "0", "true", "{\"total_tokens\":5}", "{\"totalTokenCount\":5}", "{\"prompt_tokens\":null}"];

    /// <summary>The names of the mutations, in the order <see cref="Mutate"/> picks them from.</summary>
    public static readonly string[] Names =
    [
        "truncate", "flip", "insert", "delete", "number", "nest", "invalid-utf8", "utf16", "bom", "crlf", "lf", "cr", "nul",
        "join-lines", "duplicate-line", "drop-line", "swap-lines", "sse-duplicate", "sse-split", "sse-unframe", "remove-usage",
        "usage-value", "drop-field", "huge-string", "repeat", "nudge",
    ];

    /// <summary>Mutates <paramref name="input"/> one to three times; <paramref name="applied"/> names what was done.</summary>
    public static byte[] Mutate(byte[] input, Random random, out string applied)
    {
        var data = input;
        var count = random.Next(1, 4);
        var names = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var which = random.Next(Names.Length);
            names.Add(Names[which]);
            data = Apply(which, data, random);
            if (data.Length > 4 * 1024 * 1024)
            {
                data = data[..(4 * 1024 * 1024)];
            }
        }

        applied = string.Join(", ", names);
        return data;
    }

    private static byte[] Apply(int which, byte[] data, Random random) => Names[which] switch
    {
        "truncate" => data.Length == 0 ? data : data[..random.Next(data.Length)],
        "flip" => Flip(data, random),
        "insert" => Insert(data, random.Next(data.Length + 1), RandomFragment(random)),
        "delete" => Delete(data, random),
        "number" => ReplaceNumber(data, random),
        "nest" => Nest(data, random),
        "invalid-utf8" => InsertInString(data, random, Fragments[random.Next(Fragments.Length - 10, Fragments.Length)]),
        "utf16" => Utf16(data, random),
        "bom" => [.. new byte[] { 0xEF, 0xBB, 0xBF }, .. data],
        "crlf" => Replace(data, "\n"u8, "\r\n"u8),
        "lf" => Replace(data, "\r\n"u8, "\n"u8),
        "cr" => Replace(data, "\n"u8, "\r"u8),
        "nul" => Insert(data, random.Next(data.Length + 1), [0]),
        "join-lines" => Replace(data, "\n"u8, " "u8),
        "duplicate-line" => Lines(data, random, (lines, i) => lines.Insert(i, lines[i])),
        "drop-line" => Lines(data, random, (lines, i) => lines.RemoveAt(i)),
        "swap-lines" => Lines(data, random, (lines, i) => (lines[i], lines[^1]) = (lines[^1], lines[i])),
        "sse-duplicate" => SseFrames(data, random, (frames, i) => frames.Insert(i, frames[i])),
        "sse-split" => SseSplit(data, random),
        "sse-unframe" => Replace(data, "\n\n"u8, "\n"u8),
        "remove-usage" => RemoveUsage(data, random),
        "usage-value" => ReplaceUsageValue(data, random),
        "drop-field" => DropField(data, random),
        "nudge" => Nudge(data, random),
        "huge-string" => InsertInString(data, random, Encoding.UTF8.GetBytes(new string('x', random.Next(1, 3) == 1 ? 70_000 : 1_100_000))),
        _ => Repeat(data, random),
    };

    private static byte[] RandomFragment(Random random)
    {
        if (random.Next(3) == 0)
        {
            var bytes = new byte[random.Next(1, 9)];
            random.NextBytes(bytes);
            return bytes;
        }

        return Fragments[random.Next(Fragments.Length)];
    }

    private static byte[] Flip(byte[] data, Random random)
    {
        if (data.Length == 0) return data;
        var copy = (byte[])data.Clone();
        for (var n = random.Next(1, 9); n > 0; n--)
        {
            copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
        }

        return copy;
    }

    private static byte[] Insert(byte[] data, int at, ReadOnlySpan<byte> what) => [.. data.AsSpan(0, at), .. what, .. data.AsSpan(at)];

    private static byte[] Delete(byte[] data, Random random)
    {
        if (data.Length == 0) return data;
        var at = random.Next(data.Length);
        var length = Math.Min(data.Length - at, random.Next(1, 33));
        return [.. data.AsSpan(0, at), .. data.AsSpan(at + length)];
    }

    private static byte[] ReplaceNumber(byte[] data, Random random)
    {
        // A run of digits (with a leading minus) somewhere in the input becomes an awkward number.
        var runs = new List<(int Start, int Length)>();
        for (var i = 0; i < data.Length; i++)
        {
            if (!IsDigit(data[i])) continue;
            var start = i > 0 && data[i - 1] == (byte)'-' ? i - 1 : i;
            while (i < data.Length && (IsDigit(data[i]) || data[i] is (byte)'.' or (byte)'e' or (byte)'E' or (byte)'+')) i++;
            runs.Add((start, i - start));
        }

        if (runs.Count == 0) return Insert(data, random.Next(data.Length + 1), Encoding.ASCII.GetBytes(Numbers[random.Next(Numbers.Length)]));
        var (s, l) = runs[random.Next(runs.Count)];
        return [.. data.AsSpan(0, s), .. Encoding.ASCII.GetBytes(Numbers[random.Next(Numbers.Length)]), .. data.AsSpan(s + l)];
    }

    /// <summary>Moves one whole number a little (±1..±100): a count or a total that disagrees with the others.</summary>
    private static byte[] Nudge(byte[] data, Random random)
    {
        var runs = new List<(int Start, int Length)>();
        for (var i = 0; i < data.Length; i++)
        {
            if (!IsDigit(data[i])) continue;
            var start = i;
            while (i < data.Length && IsDigit(data[i])) i++;
            if (i - start <= 15) runs.Add((start, i - start));
        }

        if (runs.Count == 0) return data;
        var (s, l) = runs[random.Next(runs.Count)];
        var value = long.Parse(data.AsSpan(s, l), System.Globalization.CultureInfo.InvariantCulture);
        var moved = Math.Max(0, value + (random.Next(2) == 0 ? 1 : -1) * random.Next(1, 101));
        return [.. data.AsSpan(0, s), .. Encoding.ASCII.GetBytes(moved.ToString(System.Globalization.CultureInfo.InvariantCulture)), .. data.AsSpan(s + l)];
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    private static byte[] Nest(byte[] data, Random random)
    {
        var depth = random.Next(4) switch
        {
            0 => random.Next(2, 70),
            1 => random.Next(60, 200),
            2 => random.Next(200, 5_000),
            _ => random.Next(5_000, 100_000),
        };
        var unit = random.Next(4) switch
        {
            0 => "["u8.ToArray(),
            1 => "{\"a\":"u8.ToArray(),
            2 => "{\"usage\":"u8.ToArray(),
            _ => "[{"u8.ToArray(),
        };
        var open = new byte[unit.Length * depth];
        for (var i = 0; i < depth; i++) unit.CopyTo(open, i * unit.Length);
        var at = ValueStart(data, random);
        if (random.Next(2) == 0)
        {
            return Insert(data, at, open);
        }

        // Balanced: the nesting closes again, so only the depth is hostile.
        var close = unit[0] == (byte)'[' && unit.Length == 1 ? "]"u8 : unit.Length == 2 ? "}]"u8 : "}"u8;
        var closing = new byte[close.Length * depth];
        for (var i = 0; i < depth; i++) close.CopyTo(closing.AsSpan(i * close.Length));
        return [.. data.AsSpan(0, at), .. open, .. "0"u8, .. closing, .. data.AsSpan(at)];
    }

    /// <summary>A position just after a ':' (where a JSON value starts), else anywhere.</summary>
    private static int ValueStart(byte[] data, Random random)
    {
        var colons = new List<int>();
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] is (byte)':' or (byte)'=') colons.Add(i + 1);
        }

        return colons.Count > 0 ? colons[random.Next(colons.Count)] : random.Next(data.Length + 1);
    }

    private static byte[] InsertInString(byte[] data, Random random, byte[] what)
    {
        var quotes = new List<int>();
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] == (byte)'"') quotes.Add(i + 1);
        }

        var at = quotes.Count > 0 ? quotes[random.Next(quotes.Count)] : random.Next(data.Length + 1);
        return Insert(data, at, what);
    }

    private static byte[] Utf16(byte[] data, Random random)
    {
        var text = Encoding.UTF8.GetString(data);
        return random.Next(3) switch
        {
            0 => [.. new byte[] { 0xFF, 0xFE }, .. Encoding.Unicode.GetBytes(text)],
            1 => [.. new byte[] { 0xFE, 0xFF }, .. Encoding.BigEndianUnicode.GetBytes(text)],
            _ => Encoding.Unicode.GetBytes(text), // no BOM at all
        };
    }

    private static byte[] Replace(byte[] data, ReadOnlySpan<byte> from, ReadOnlySpan<byte> to)
    {
        var output = new List<byte>(data.Length + 64);
        var span = data.AsSpan();
        while (true)
        {
            var at = span.IndexOf(from);
            if (at < 0)
            {
                output.AddRange(span);
                return [.. output];
            }

            output.AddRange(span[..at]);
            output.AddRange(to);
            span = span[(at + from.Length)..];
        }
    }

    private static byte[] Lines(byte[] data, Random random, Action<List<byte[]>, int> change)
    {
        var lines = Split(data, "\n"u8);
        if (lines.Count < 2) return data;
        change(lines, random.Next(lines.Count));
        return Join(lines, "\n"u8);
    }

    private static byte[] SseFrames(byte[] data, Random random, Action<List<byte[]>, int> change)
    {
        var frames = Split(data, "\n\n"u8);
        if (frames.Count < 2) return Lines(data, random, (lines, i) => lines.Insert(i, lines[i]));
        change(frames, random.Next(frames.Count));
        return Join(frames, "\n\n"u8);
    }

    /// <summary>Splits one <c>data:</c> line into two (SSE joins them with a newline, which is inside the JSON then).</summary>
    private static byte[] SseSplit(byte[] data, Random random)
    {
        var lines = Split(data, "\n"u8);
        var candidates = Enumerable.Range(0, lines.Count).Where(i => lines[i].AsSpan().StartsWith("data:"u8) && lines[i].Length > 8).ToList();
        if (candidates.Count == 0) return data;
        var index = candidates[random.Next(candidates.Count)];
        var line = lines[index];
        var cut = random.Next(6, line.Length);
        lines[index] = [.. line.AsSpan(0, cut), .. "\ndata: "u8, .. line.AsSpan(cut)];
        return Join(lines, "\n"u8);
    }

    private static byte[] RemoveUsage(byte[] data, Random random)
    {
        // Rename every usage key (so no usage is found), or cut one usage member out entirely.
        if (random.Next(2) == 0)
        {
            var renamed = Replace(data, "\"usage\""u8, "\"usag_\""u8);
            return Replace(renamed, "\"usageMetadata\""u8, "\"usageMetadat_\""u8);
        }

        return ReplaceUsageObject(data, random, "null"u8, removeKey: true);
    }

    private static byte[] ReplaceUsageValue(byte[] data, Random random) =>
        ReplaceUsageObject(data, random, Encoding.ASCII.GetBytes(UsageReplacements[random.Next(UsageReplacements.Length)]), removeKey: false);

    private static byte[] ReplaceUsageObject(byte[] data, Random random, ReadOnlySpan<byte> replacement, bool removeKey)
    {
        var keys = new List<int>();
        var span = data.AsSpan();
        for (var offset = 0; ;)
        {
            var at = span[offset..].IndexOf("\"usage"u8);
            if (at < 0) break;
            keys.Add(offset + at);
            offset += at + 1;
        }

        if (keys.Count == 0) return data;
        var key = keys[random.Next(keys.Count)];
        var colon = span[key..].IndexOf((byte)':');
        if (colon < 0) return data;
        var valueStart = key + colon + 1;
        while (valueStart < data.Length && data[valueStart] == (byte)' ') valueStart++;
        var valueEnd = ValueEnd(data, valueStart);
        if (removeKey)
        {
            // Drop `"usage": {...}` and one neighbouring comma.
            var end = valueEnd < data.Length && data[valueEnd] == (byte)',' ? valueEnd + 1 : valueEnd;
            var start = end == valueEnd && key > 0 && data[key - 1] == (byte)',' ? key - 1 : key;
            return [.. span[..start], .. span[end..]];
        }

        return [.. span[..valueStart], .. replacement, .. span[valueEnd..]];
    }

    /// <summary>The end of the JSON value starting at <paramref name="start"/> (brackets balanced, strings skipped).</summary>
    private static int ValueEnd(byte[] data, int start)
    {
        var depth = 0;
        var inString = false;
        for (var i = start; i < data.Length; i++)
        {
            var b = data[i];
            if (inString)
            {
                if (b == (byte)'\\') i++;
                else if (b == (byte)'"') inString = false;
                continue;
            }

            switch (b)
            {
                case (byte)'"': inString = true; break;
                case (byte)'{' or (byte)'[': depth++; break;
                case (byte)'}' or (byte)']':
                    if (depth == 0) return i;
                    depth--;
                    if (depth == 0) return i + 1;
                    break;
                case (byte)',' or (byte)'\n' when depth == 0: return i;
            }
        }

        return data.Length;
    }

    /// <summary>Removes one <c>"key": value</c> member somewhere (a count, an id, a type…).</summary>
    private static byte[] DropField(byte[] data, Random random)
    {
        var keys = new List<int>();
        for (var i = 0; i + 1 < data.Length; i++)
        {
            if (data[i] == (byte)'"' && (i == 0 || data[i - 1] is (byte)'{' or (byte)',' or (byte)' ')) keys.Add(i);
        }

        if (keys.Count == 0) return data;
        var key = keys[random.Next(keys.Count)];
        var close = data.AsSpan(key + 1).IndexOf((byte)'"');
        if (close < 0) return data;
        var colon = key + 1 + close + 1;
        while (colon < data.Length && data[colon] == (byte)' ') colon++;
        if (colon >= data.Length || data[colon] != (byte)':') return data;
        var valueStart = colon + 1;
        while (valueStart < data.Length && data[valueStart] == (byte)' ') valueStart++;
        var end = ValueEnd(data, valueStart);
        if (end < data.Length && data[end] == (byte)',') end++;
        return [.. data.AsSpan(0, key), .. data.AsSpan(end)];
    }

    private static byte[] Repeat(byte[] data, Random random)
    {
        // The whole input several times over: repeated events, repeated lines, a body after a body.
        var times = random.Next(2, 6);
        var output = new byte[data.Length * times];
        for (var i = 0; i < times; i++) data.CopyTo(output, i * data.Length);
        return output;
    }

    private static List<byte[]> Split(byte[] data, ReadOnlySpan<byte> separator)
    {
        var parts = new List<byte[]>();
        var span = data.AsSpan();
        while (true)
        {
            var at = span.IndexOf(separator);
            if (at < 0)
            {
                parts.Add(span.ToArray());
                return parts;
            }

            parts.Add(span[..at].ToArray());
            span = span[(at + separator.Length)..];
        }
    }

    private static byte[] Join(List<byte[]> parts, ReadOnlySpan<byte> separator)
    {
        var output = new List<byte>();
        for (var i = 0; i < parts.Count; i++)
        {
            if (i > 0) output.AddRange(separator);
            output.AddRange(parts[i]);
        }

        return [.. output];
    }
}
