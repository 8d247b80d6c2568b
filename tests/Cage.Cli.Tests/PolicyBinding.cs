using CageNet.Configuration;
using Microsoft.Extensions.Configuration;

namespace CageNet.Cli.Tests;

/// <summary>Binds a policy file exactly as a host binds its <c>Cage</c> section.</summary>
internal static class PolicyBinding
{
    public static CageOptions Bind(string path) =>
        new ConfigurationBuilder().AddJsonFile(path, optional: false).Build()
            .GetSection(CageOptions.SectionName).Get<CageOptions>() ?? throw new InvalidOperationException("no Cage section");
}
