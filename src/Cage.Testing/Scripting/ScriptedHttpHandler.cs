using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Testing;

/// <summary>
/// An <see cref="HttpMessageHandler"/> that stands in for a provider's endpoint: each POST gets the next
/// <see cref="ScriptedTurn"/> as the provider's real wire JSON, so <c>AddCageMetering()</c> (and any SDK on top)
/// reads it exactly as a real response. OpenAI Chat Completions (<c>…/chat/completions</c>) and Anthropic Messages
/// (<c>…/messages</c>) are served; a request with <c>"stream": true</c> gets a server-sent-event stream, with OpenAI's
/// usage chunk only when the request asks for it (<c>stream_options.include_usage</c>, which <c>AddCageMetering()</c>
/// adds). Other paths get 404. Use it as the primary handler:
/// <c>services.AddHttpClient("openai").AddCageMetering().ConfigurePrimaryHttpMessageHandler(() =&gt; handler)</c>.
/// </summary>
/// <remarks>
/// OpenAI's wire has no cache-write bucket: a turn's cache writes are reported as part of <c>prompt_tokens</c> and are
/// metered as input there; Anthropic reports them as <c>cache_creation_input_tokens</c>. Reasoning tokens are reported
/// by OpenAI only (<c>completion_tokens_details.reasoning_tokens</c>). Thread-safe.
/// </remarks>
public sealed class ScriptedHttpHandler : HttpMessageHandler
{
    private readonly TurnScript _script;
    private readonly object _gate = new();
    private readonly List<string> _requests = [];

    /// <summary>Creates the handler.</summary>
    /// <param name="turns">The responses it plays back, in order.</param>
    public ScriptedHttpHandler(params IEnumerable<ScriptedTurn> turns)
    {
        ArgumentNullException.ThrowIfNull(turns);
        _script = new TurnScript(turns, nameof(ScriptedHttpHandler));
    }

    /// <summary>A clock each turn advances by its <see cref="ScriptedTurn.Latency"/> (and that dates the responses); none by default.</summary>
    public FakeTimeProvider? Clock { get; init; }

    /// <summary>The model served when neither the turn nor the request body names one. Default <c>gpt-4o</c>.</summary>
    public string DefaultModel { get; init; } = "gpt-4o";

    /// <summary>Whether the last turn is replayed once the script is played out; default <see langword="false"/>: it throws.</summary>
    public bool RepeatLast
    {
        get => _script.RepeatLast;
        init => _script.RepeatLast = value;
    }

    /// <summary>The bodies of every request received (what the code under test sent), in order.</summary>
    public IReadOnlyList<string> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>How many turns were played.</summary>
    public int TurnsPlayed => _script.Played;

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The script has no more turns.</exception>
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return Answer(request, body);
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The script has no more turns.</exception>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string body;
        if (request.Content is null)
        {
            body = "";
        }
        else
        {
            using var reader = new StreamReader(request.Content.ReadAsStream(cancellationToken), Encoding.UTF8);
            body = reader.ReadToEnd();
        }

        return Answer(request, body);
    }

    private HttpResponseMessage Answer(HttpRequestMessage request, string body)
    {
        var path = request.RequestUri is { } uri ? (uri.IsAbsoluteUri ? uri.AbsolutePath : uri.OriginalString.Split('?', 2)[0]).TrimEnd('/') : "";
        var wire = request.Method != HttpMethod.Post ? Wire.None
            : path.EndsWith("/chat/completions", StringComparison.OrdinalIgnoreCase) ? Wire.OpenAIChat
            : path.EndsWith("/messages", StringComparison.OrdinalIgnoreCase) ? Wire.AnthropicMessages
            : Wire.None;
        if (wire == Wire.None)
        {
            return new HttpResponseMessage(HttpStatusCode.NotFound)
            {
                RequestMessage = request,
                Content = new StringContent(
                    "{\"error\":{\"message\":\"ScriptedHttpHandler serves POST …/chat/completions and …/messages, not " + request.Method + " " + JsonEncodedText.Encode(path) + "\"}}",
                    Encoding.UTF8,
                    "application/json"),
            };
        }

        lock (_gate)
        {
            _requests.Add(body);
        }

        var facts = RequestFacts.Read(body);
        var (turn, _) = _script.Next();
        if (turn.Latency > TimeSpan.Zero)
        {
            Clock?.Advance(turn.Latency);
        }

        if (turn.InputFromRequest)
        {
            turn = turn with { Usage = TurnScript.UsageFor(turn, body.Length), InputFromRequest = false };
        }

        var model = turn.Model ?? facts.Model ?? DefaultModel;
        var created = (Clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds();
        var text = (wire, facts.Stream) switch
        {
            (Wire.OpenAIChat, false) => WireResponses.OpenAIChat(turn, model, turn.ResponseId ?? TurnScript.NewId("chatcmpl-"), created),
            (Wire.OpenAIChat, true) => WireResponses.OpenAIChatStream(turn, model, turn.ResponseId ?? TurnScript.NewId("chatcmpl-"), created, facts.IncludeUsage),
            (_, false) => WireResponses.AnthropicMessage(turn, model, turn.ResponseId ?? TurnScript.NewId("msg_")),
            (_, true) => WireResponses.AnthropicMessageStream(turn, model, turn.ResponseId ?? TurnScript.NewId("msg_")),
        };
        var content = new StringContent(text, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(facts.Stream ? "text/event-stream" : "application/json") { CharSet = "utf-8" };
        return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = content };
    }

    private enum Wire
    {
        None,
        OpenAIChat,
        AnthropicMessages,
    }

    /// <summary>What the request body asks for: the model, a stream, and OpenAI's stream usage option.</summary>
    private readonly record struct RequestFacts(string? Model, bool Stream, bool IncludeUsage)
    {
        public static RequestFacts Read(string body)
        {
            if (string.IsNullOrWhiteSpace(body))
            {
                return default;
            }

            try
            {
                using var doc = JsonDocument.Parse(body);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    return default;
                }

                var model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                var stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
                var usage = root.TryGetProperty("stream_options", out var o) && o.ValueKind == JsonValueKind.Object
                    && o.TryGetProperty("include_usage", out var u) && u.ValueKind == JsonValueKind.True;
                return new RequestFacts(model, stream, usage);
            }
            catch (JsonException)
            {
                return default; // not JSON: answered as a plain, non-streaming request
            }
        }
    }
}
