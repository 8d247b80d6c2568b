using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;

namespace CageNet.Cli;

/// <summary>
/// Numeric options with messages a person can act on. System.CommandLine's own conversion error for a typed option
/// names a .NET type (<c>as expected type 'System.Nullable`1[System.Decimal]'</c>); these options parse their token
/// themselves and report, for example, <c>--budget 'lots' is not an amount in dollars (e.g. 25 or 12.50)</c>: a usage
/// error, exit 2.
/// </summary>
internal static partial class NumberOptions
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>An optional amount in US dollars (<c>25</c>, <c>12.50</c>, <c>$1,000</c>); negative amounts are refused.</summary>
    public static Option<decimal?> Dollars(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "USD",
        CustomParser = result =>
        {
            var text = Single(result);
            var number = text.StartsWith('$') ? text[1..] : text;
            if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint | NumberStyles.AllowThousands | NumberStyles.AllowLeadingSign, Invariant, out var value))
            {
                result.AddError($"{name} '{text}' is not an amount in dollars (e.g. 25 or 12.50)");
                return null;
            }

            if (value < 0)
            {
                result.AddError($"{name} '{text}' is negative: give an amount of 0 dollars or more");
                return null;
            }

            return value;
        },
    };

    /// <summary>A ratio of 0 or more (<c>0.2</c> means 20%), with a default.</summary>
    public static Option<decimal> Ratio(string name, string description, decimal defaultValue) => new(name)
    {
        Description = description,
        HelpName = "RATIO",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            var text = Single(result);
            if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, Invariant, out var value))
            {
                result.AddError($"{name} '{text}' is not a number: give a ratio such as 0.2 (20%)");
                return defaultValue;
            }

            if (value < 0)
            {
                result.AddError($"{name} '{text}' is negative: give a ratio of 0 or more (0.2 means 20%)");
                return defaultValue;
            }

            return value;
        },
    };

    /// <summary>
    /// A parse error as it is printed: System.CommandLine's messages, except its type-conversion one, which names a .NET
    /// type and is reworded (a safety net: every typed option of <c>cage</c> parses its own token).
    /// </summary>
    public static string Describe(ParseError error)
    {
        var match = ConversionError().Match(error.Message);
        if (match.Success)
        {
            return $"{match.Groups["option"].Value} '{match.Groups["value"].Value}' is not a valid value";
        }

        // One line, and naming the option ("Argument 'color' not recognized" alone does not say which one).
        var message = string.Join(", ", error.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Replace(":,", ":", StringComparison.Ordinal);
        var option = error.SymbolResult switch
        {
            OptionResult o => o.Option.Name,
            ArgumentResult { Parent: OptionResult o } => o.Option.Name,
            _ => null,
        };
        return option is not null && !message.Contains(option, StringComparison.Ordinal) ? $"{option}: {message}" : message;
    }

    private static string Single(ArgumentResult result) =>
        result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for (?:option|command|argument) '(?<option>[^']*)' as expected type", RegexOptions.CultureInvariant)]
    private static partial Regex ConversionError();
}
