using CageNet.Cli.Policy;

namespace CageNet.Cli.Tests.Policy;

[TestFixture]
public sealed class ReferenceOutcomesTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);

    // Found by the fuzzer (tests/Cage.Fuzz.Tests, outcomes): JsonDocument accepted the bytes, then reading the name or
    // value threw InvalidOperationException, which escaped `cage import` as a crash instead of exit 2.
    [TestCase(new byte[] { (byte)'{', (byte)'"', (byte)'t', 0xE1, (byte)'"', (byte)':', (byte)'"', (byte)'o', (byte)'k', (byte)'"', (byte)'}' }, TestName = "Read_InvalidUtf8InATaskName_IsBadInput")]
    [TestCase(new byte[] { (byte)'{', (byte)'"', (byte)'t', (byte)'"', (byte)':', (byte)'"', 0xFF, (byte)'o', (byte)'k', (byte)'"', (byte)'}' }, TestName = "Read_InvalidUtf8InAnOutcome_IsBadInput")]
    [TestCase(new byte[] { (byte)'{', (byte)'"', (byte)'t', (byte)'"', (byte)':', (byte)'{', (byte)'"', (byte)'s', (byte)'t', (byte)'a', (byte)'t', (byte)'u', (byte)'s', (byte)'"', (byte)':', (byte)'"', 0xC0, 0x80, (byte)'"', (byte)'}', (byte)'}' }, TestName = "Read_OverlongUtf8InAStatus_IsBadInput")]
    public void Read_TextThatIsNotUtf8_IsBadInputNamingTheFile(byte[] json)
    {
        var file = Path.Combine(Path.GetTempPath(), "cage-outcomes-" + Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllBytes(file, json);
        try
        {
            var ex = Assert.Throws<CliException>(() => ReferenceOutcomes.Read(file, Now));

            Assert.That(ex!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
            Assert.That(ex.Message, Does.StartWith(file).And.Contain("not valid UTF-8").And.Contain("nothing was imported"));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
