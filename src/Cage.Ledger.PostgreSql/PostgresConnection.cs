using System.Globalization;
using Npgsql;

namespace CageNet.Ledger;

/// <summary>
/// Connection strings for the PostgreSQL ledger: an Npgsql connection string or a <c>postgres://</c> URL, and how they
/// are shown in messages (never with the password).
/// </summary>
/// <remarks>
/// The password comes, in this order, from the connection string or URL, from the file named by
/// <c>CAGE_POSTGRES_PASSWORD_FILE</c> (its first line), or from what Npgsql itself reads: <c>PGPASSWORD</c> and the
/// passfile (<c>PGPASSFILE</c>, else <c>~/.pgpass</c>). Putting it in a file or the environment keeps it out of shell
/// history and process lists.
/// </remarks>
internal static class PostgresConnection
{
    /// <summary>The environment variable naming a file whose first line is the password.</summary>
    public const string PasswordFileVariable = "CAGE_POSTGRES_PASSWORD_FILE";

    /// <summary>Whether a ledger location names a PostgreSQL database (a <c>postgres://</c> or <c>postgresql://</c> URL, or a connection string with <c>Host=</c>) rather than a SQLite file.</summary>
    /// <param name="location">A <c>--ledger</c> / <c>CAGE_LEDGER</c> value.</param>
    public static bool IsPostgres(string? location)
    {
        if (string.IsNullOrWhiteSpace(location))
        {
            return false;
        }

        var text = location.Trim();
        return text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
            || (text.Contains('=', StringComparison.Ordinal) && text.Contains(';', StringComparison.Ordinal)
                && text.Split(';').Any(part => part.Trim().StartsWith("Host", StringComparison.OrdinalIgnoreCase) || part.Trim().StartsWith("Server", StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>Parses a connection string or URL into Npgsql's builder, with the password from the environment or a file when the text has none.</summary>
    /// <param name="connectionString">The connection string or <c>postgres://user[:password]@host[:port]/database[?key=value…]</c>.</param>
    /// <exception cref="ArgumentException">The text is empty or malformed (the message never contains the password).</exception>
    public static NpgsqlConnectionStringBuilder Parse(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var text = connectionString.Trim();
        NpgsqlConnectionStringBuilder builder;
        if (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            builder = FromUrl(text);
        }
        else
        {
            try
            {
                builder = new NpgsqlConnectionStringBuilder(text);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
            {
                // Npgsql's message names the bad keyword, not the values.
                throw new ArgumentException($"The PostgreSQL connection string is malformed: {ex.Message}", nameof(connectionString));
            }
        }

        if (string.IsNullOrEmpty(builder.Host))
        {
            throw new ArgumentException("The PostgreSQL connection string names no host (Host=… or postgres://host/…).", nameof(connectionString));
        }

        if (string.IsNullOrEmpty(builder.Password) && Environment.GetEnvironmentVariable(PasswordFileVariable) is { Length: > 0 } file)
        {
            try
            {
                builder.Password = File.ReadLines(file).FirstOrDefault()?.TrimEnd('\r', '\n') ?? "";
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"Cannot read the PostgreSQL password file {file} ({PasswordFileVariable}): {ex.Message}", nameof(connectionString));
            }
        }

        return builder;
    }

    /// <summary>The database as messages show it: <c>postgres://user@host:port/database</c>, without the password.</summary>
    /// <param name="builder">The parsed connection string.</param>
    public static string Describe(NpgsqlConnectionStringBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var user = string.IsNullOrEmpty(builder.Username) ? "" : builder.Username + "@";
        return string.Create(CultureInfo.InvariantCulture, $"postgres://{user}{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username ?? ""}");
    }

    /// <summary>A connection failure's reason without the connection string.</summary>
    internal static string Reason(Exception ex) => ex switch
    {
        PostgresException pg => $"{pg.MessageText} ({pg.SqlState})",
        _ when ex.InnerException is System.Net.Sockets.SocketException socket => socket.Message,
        _ => ex.Message,
    };

    private static NpgsqlConnectionStringBuilder FromUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host) && !text.Contains("@/", StringComparison.Ordinal))
        {
            throw new ArgumentException("The PostgreSQL URL is malformed: use postgres://user@host:port/database.", nameof(text));
        }

        var builder = new NpgsqlConnectionStringBuilder { Host = Uri.UnescapeDataString(uri.Host) };
        if (uri.Port > 0)
        {
            builder.Port = uri.Port;
        }

        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            try
            {
                // libpq's names where they differ from Npgsql's; the rest (e.g. "Search Path") pass through.
                builder[key switch { "sslmode" => "SSL Mode", "host" => "Host", "application_name" => "Application Name", "connect_timeout" => "Timeout", _ => key }] = value;
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
            {
                throw new ArgumentException($"The PostgreSQL URL has an unknown or bad option '{key}'.", nameof(text));
            }
        }

        return builder;
    }
}
