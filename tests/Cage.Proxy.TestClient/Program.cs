using System.Text;
using System.Text.Json;

// Prints the arguments it got (as JSON) and a line read from stdin, makes one streaming chat completion through
// OPENAI_BASE_URL when set, writes a line to stderr, and exits with the code after --exit (default 0).
Console.WriteLine("args=" + JsonSerializer.Serialize(args));
var line = Console.In.ReadLine();
Console.WriteLine("stdin=" + (line ?? "(none)"));
if (Environment.GetEnvironmentVariable("OPENAI_BASE_URL") is { Length: > 0 } baseUrl)
{
    using var client = new HttpClient();
    using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl.TrimEnd('/') + "/chat/completions")
    {
        Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
    };
    request.Headers.Add("Authorization", "Bearer sk-test-client-0000000000");
    using var response = await client.SendAsync(request);
    var body = await response.Content.ReadAsStringAsync();
    Console.WriteLine($"status={(int)response.StatusCode} events={body.Split("data:").Length - 1}");
}

Console.Error.WriteLine("client stderr line");
var exit = Array.IndexOf(args, "--exit");
return exit >= 0 && exit + 1 < args.Length && int.TryParse(args[exit + 1], out var code) ? code : 0;
