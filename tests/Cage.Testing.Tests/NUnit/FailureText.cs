using NUnit.Framework.Constraints;
using NUnit.Framework.Internal;

namespace CageNet.Testing.Tests.NUnit;

/// <summary>What <c>Assert.That(actual, constraint)</c> would report: the resolved constraint's result, written by NUnit's own writer.</summary>
internal static class FailureText
{
    public static (bool Success, string Message) Apply(IResolveConstraint constraint, object actual)
    {
        var result = constraint.Resolve().ApplyTo(actual);
        var writer = new TextMessageWriter();
        result.WriteMessageTo(writer);
        return (result.IsSuccess, writer.ToString().Replace("\r\n", "\n", StringComparison.Ordinal));
    }
}
