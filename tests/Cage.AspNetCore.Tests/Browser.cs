using System.Diagnostics;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace CageNet.AspNetCore.Tests;

/// <summary>
/// Debian's headless Chromium driven through its chromedriver (both from apt: chromium, chromium-driver), with a
/// fresh profile and every background network feature off (the machine's network is closed). When either is missing
/// or the browser cannot start, <see cref="Start"/> throws with the reason, so the tests fail rather than skip.
/// </summary>
internal sealed class Browser : IDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string DriverPath = "/usr/bin/chromedriver";

    private readonly DirectoryInfo _profile;

    private Browser(ChromeDriver driver, DirectoryInfo profile)
    {
        Driver = driver;
        _profile = profile;
    }

    public ChromeDriver Driver { get; }

    public static Browser Start()
    {
        foreach (var path in new[] { ChromiumPath, DriverPath })
        {
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"{path} is missing: the browser tests need Debian's headless Chromium (apt-get install -y chromium chromium-driver; .ci/run installs them)");
            }
        }

        // Selenium Manager must not look for browsers or drivers on the network: both paths are given.
        Environment.SetEnvironmentVariable("SE_OFFLINE", "true");
        Environment.SetEnvironmentVariable("SE_AVOID_STATS", "true");
        var profile = Directory.CreateTempSubdirectory("cage-chromium-");
        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments(
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1500",
            "--user-data-dir=" + profile.FullName);
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(DriverPath)!, Path.GetFileName(DriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        try
        {
            return new Browser(new ChromeDriver(service, options, TimeSpan.FromSeconds(90)), profile);
        }
        catch (Exception ex)
        {
            service.Dispose();
            throw new InvalidOperationException($"headless Chromium ({ChromiumPath} through {DriverPath}) did not start: {ex.Message}", ex);
        }
    }

    /// <summary>Loads <paramref name="url"/> afresh (through about:blank, so a hash change is a real page load).</summary>
    public void Load(string url)
    {
        Driver.Navigate().GoToUrl("about:blank");
        Driver.Navigate().GoToUrl(url);
    }

    /// <summary>The browser's console entries since the last call.</summary>
    public IReadOnlyList<LogEntry> Console() => Driver.Manage().Logs.GetLog(LogType.Browser);

    /// <summary>Waits for an element matching <paramref name="css"/>, failing with the page's state when none appears.</summary>
    public IWebElement WaitFor(string css, double seconds = 15) => Until(() => Driver.FindElements(By.CssSelector(css)).FirstOrDefault(), $"an element matching '{css}'", seconds)!;

    public T Until<T>(Func<T?> probe, string what, double seconds = 15)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (probe() is { } found && (found is not bool b || b))
                {
                    return found;
                }
            }
            catch (StaleElementReferenceException)
            {
                // The page re-rendered between finding and reading: look again.
            }

            if (clock.Elapsed.TotalSeconds > seconds)
            {
                var main = Driver.FindElements(By.Id("main")).FirstOrDefault()?.Text ?? "(no main element)";
                var console = string.Join("; ", Console().Select(e => $"{e.Level}: {e.Message}"));
                Assert.Fail($"waited {seconds}s for {what} at {Driver.Url}; the page shows: {main[..Math.Min(main.Length, 600)]}; console: {console}");
            }

            Thread.Sleep(50);
        }
    }

    public object? Script(string script, params object[] args) => Driver.ExecuteScript(script, args);

    /// <summary>Saves a screenshot as a test attachment and returns its path.</summary>
    public string Screenshot(string name)
    {
        var folder = Path.Combine(TestContext.CurrentContext.WorkDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".png");
        Driver.GetScreenshot().SaveAsFile(path);
        TestContext.AddTestAttachment(path, $"the {name} page in headless Chromium");
        return path;
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        try
        {
            _profile.Delete(recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still be closing files in its profile; the temp folder is cleaned by the system.
        }
    }
}
