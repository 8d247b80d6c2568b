using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using CageNet.Attribution;
using CageNet.Budgets;
using CageNet.Pricing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace CageNet.Mcp.Tools;

/// <summary>What a tool does with its checked arguments: the JSON text of its view (a <c>CageViews.Json</c> result).</summary>
internal delegate ValueTask<string> ToolBody(ToolArguments arguments, IServiceProvider services, CancellationToken cancellationToken);

/// <summary>
/// One Cage MCP tool. Its input schema is built from its <see cref="ToolParameter"/>s and its output schema is the
/// embedded <c>Schemas/&lt;name&gt;.json</c>. A call returns the view's JSON twice, as <c>structuredContent</c> and as the
/// text content (what the MCP specification asks of a tool with an output schema, for clients that read only text).
/// Bad arguments and failures the caller can act on come back as a tool error result (<c>isError</c>) with the message;
/// the server never crashes on them.
/// </summary>
internal sealed partial class CageTool : McpServerTool
{
    private readonly IReadOnlyList<ToolParameter> _parameters;
    private readonly ToolBody _body;

    public CageTool(string name, string title, string description, bool readOnly, IReadOnlyList<ToolParameter> parameters, ToolBody body)
    {
        _parameters = parameters;
        _body = body;
        ProtocolTool = new Tool
        {
            Name = name,
            Title = title,
            Description = description,
            InputSchema = JsonSerializer.SerializeToElement<JsonNode>(ToolParameter.InputSchema(parameters)),
            OutputSchema = OutputSchemaOf(name),
            Annotations = new ToolAnnotations
            {
                Title = title,
                ReadOnlyHint = readOnly,
                DestructiveHint = false,
                IdempotentHint = readOnly,
                OpenWorldHint = false,
            },
        };
    }

    public override Tool ProtocolTool { get; }

    public override IReadOnlyList<object> Metadata { get; } = [];

    public override async ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var services = request.Services ?? throw new InvalidOperationException("the MCP request has no services");
        try
        {
            var arguments = ToolArguments.Check(ProtocolTool.Name, _parameters, request.Params?.Arguments);
            var json = await _body(arguments, services, cancellationToken).ConfigureAwait(false);
            using var document = JsonDocument.Parse(json);
            return new CallToolResult
            {
                Content = [new TextContentBlock { Text = json }],
                StructuredContent = document.RootElement.Clone(),
            };
        }
        catch (ToolCallException ex)
        {
            return Error(ex.Message);
        }
        catch (CageValidationException ex)
        {
            return Error($"argument '{ex.Field}': {ex.Reason}");
        }
        catch (Exception ex) when (ex is AttributionException or BudgetConfigurationException or PriceMapException)
        {
            return Error(ex.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // A tool never takes the server down: the caller gets the failure as a tool error, the host a log entry.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (services.GetService<ILoggerFactory>()?.CreateLogger("Cage.Mcp") is { } logger)
            {
                Log.ToolFailed(logger, ProtocolTool.Name, ex);
            }

            return Error($"{ProtocolTool.Name} failed: {ex.Message}");
        }
    }

    private static CallToolResult Error(string message) => new()
    {
        Content = [new TextContentBlock { Text = message }],
        IsError = true,
    };

    /// <summary>The tool's output schema, embedded as <c>Schemas/&lt;name&gt;.json</c>.</summary>
    internal static JsonElement OutputSchemaOf(string name)
    {
        using var stream = typeof(CageTool).Assembly.GetManifestResourceStream($"CageNet.Mcp.Schemas.{name}.json")
            ?? throw new InvalidOperationException($"no embedded output schema for the tool '{name}'");
        using var document = JsonDocument.Parse(stream);
        return document.RootElement.Clone();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "Cage MCP tool {Tool} failed")]
        public static partial void ToolFailed(ILogger logger, string tool, Exception exception);
    }
}
