using System.Text;

namespace CageNet.Cli.Hooks;

/// <summary>A unified diff of two small texts (settings files), line by line, for <c>--dry-run</c>.</summary>
internal static class TextDiff
{
    private const int Context = 3;

    /// <summary>
    /// The diff of <paramref name="before"/> (<see langword="null"/>: the file does not exist) and
    /// <paramref name="after"/> (<see langword="null"/>: the file is deleted), with <c>---</c>/<c>+++</c> headers and
    /// <c>@@</c> hunks of three lines of context; empty when the texts are the same.
    /// </summary>
    public static string Unified(string path, string? before, string? after)
    {
        if (before == after)
        {
            return "";
        }

        var a = Lines(before);
        var b = Lines(after);

        // Longest common subsequence, from the end (the files are settings files: small).
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
        {
            for (var j = b.Length - 1; j >= 0; j--)
            {
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        var edits = new List<(char Op, string Line, int A, int B)>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                edits.Add((' ', a[x], x++, y++));
            }
            else if (y < b.Length && (x == a.Length || lcs[x, y + 1] >= lcs[x + 1, y]))
            {
                edits.Add(('+', b[y], x, y++));
            }
            else
            {
                edits.Add(('-', a[x], x++, y));
            }
        }

        var text = new StringBuilder()
            .Append("--- ").Append(before is null ? "/dev/null" : path).Append('\n')
            .Append("+++ ").Append(after is null ? "/dev/null" : path).Append('\n');
        var k = 0;
        while (k < edits.Count)
        {
            if (edits[k].Op == ' ')
            {
                k++;
                continue;
            }

            // A hunk: from Context lines before this change to Context lines after the last change that is close enough.
            var start = Math.Max(0, k - Context);
            var end = k;
            while (end < edits.Count)
            {
                if (edits[end].Op != ' ')
                {
                    end++;
                    continue;
                }

                var run = end;
                while (run < edits.Count && edits[run].Op == ' ') run++;
                if (run == edits.Count || run - end > 2 * Context)
                {
                    end = Math.Min(edits.Count, end + Context);
                    break;
                }

                end = run;
            }

            var aStart = edits[start].A;
            var bStart = edits[start].B;
            var aCount = edits.Skip(start).Take(end - start).Count(e => e.Op != '+');
            var bCount = edits.Skip(start).Take(end - start).Count(e => e.Op != '-');
            text.Append($"@@ -{(aCount == 0 ? aStart : aStart + 1)},{aCount} +{(bCount == 0 ? bStart : bStart + 1)},{bCount} @@\n");
            for (var e = start; e < end; e++)
            {
                text.Append(edits[e].Op).Append(edits[e].Line).Append('\n');
            }

            k = end;
        }

        return text.ToString();
    }

    private static string[] Lines(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }

        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }
}
