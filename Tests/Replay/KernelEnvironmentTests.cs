using System;
using System.IO;
using System.Linq;
using System.Reflection;
using NUnit.Framework;
using Replay;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// <c>oracle -E</c> files: parsed strictly, rejected with a message naming the problem when malformed or when they
/// describe a machine the engine does not model, and turned into the options that model the machine.
/// </summary>
[TestFixture]
public class KernelEnvironmentTests
{
    private const string OracleMachine = """
        kernel 6.18.44-fc-v782 x86_64
        zero_page no
        anon_vma_name no
        thp madvise
        max_map_count 65530
        overcommit_memory 0

        """;

    [Test]
    public void OracleMachineGivesTheOracleHostProfile()
    {
        AddressSpaceOptions derived = Parse(OracleMachine).ToOptions();
        AddressSpaceOptions profile = AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost);
        foreach (PropertyInfo property in typeof(AddressSpaceOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            Assert.That(property.GetValue(derived), Is.EqualTo(property.GetValue(profile)), property.Name);
        }
    }

    [Test]
    public void FactsAreRead()
    {
        KernelEnvironment env = Parse(OracleMachine);
        Assert.That(env.Release, Is.EqualTo("6.18.44-fc-v782"));
        Assert.That(env.Architecture, Is.EqualTo("x86_64"));
        Assert.That(env.Version, Is.EqualTo(new Version(6, 18)));
        Assert.That(env.Thp, Is.EqualTo("madvise"));
        Assert.That(env.OvercommitMemory, Is.Zero);
    }

    [TestCase("6.15.0", false, false, false)]
    [TestCase("6.15.11-200.fc42.x86_64", false, false, false)]
    [TestCase("6.16-rc1", true, false, false)]
    [TestCase("6.16.3", true, false, false)]
    [TestCase("6.17.0", true, true, false)]
    [TestCase("6.18.44-fc-v1045", true, true, true)]
    [TestCase("7.0.1", true, true, true)]
    public void KernelVersionDecidesTheLaterBehaviours(string release, bool mergeFix, bool multiVmaMremap, bool since618)
    {
        AddressSpaceOptions options = Parse(OracleMachine.Replace("6.18.44-fc-v782", release, StringComparison.Ordinal)).ToOptions();
        Assert.That(options.AllowMergeOfFaultedWithUnfaulted, Is.EqualTo(mergeFix));
        Assert.That(options.MremapMultipleVmas, Is.EqualTo(multiVmaMremap));
        Assert.That(options.DontUnmapKeepsAccount, Is.EqualTo(since618));
        Assert.That(options.DroppableNeverLocked, Is.EqualTo(since618));
        Assert.That(options.GiganticHugePages, Is.False);
    }

    [Test]
    public void ZeroPageNamesAndMapCountCarryOver()
    {
        string text = OracleMachine
            .Replace("zero_page no", "zero_page yes", StringComparison.Ordinal)
            .Replace("anon_vma_name no", "anon_vma_name yes", StringComparison.Ordinal)
            .Replace("65530", "1000", StringComparison.Ordinal);
        AddressSpaceOptions options = Parse(text).ToOptions();
        Assert.That(options.ZeroPage, Is.True);
        Assert.That(options.AnonVmaNames, Is.True);
        Assert.That(options.MaxMapCount, Is.EqualTo(1000));
        Assert.That(Parse(OracleMachine).ToOptions().ZeroPage, Is.False);
    }

    [Test]
    public void KeysMayComeInAnyOrderAndThpMayBeMissing()
    {
        string[] lines = OracleMachine.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string text = string.Join('\n', lines.Where(line => !line.StartsWith("thp", StringComparison.Ordinal)).Reverse()) + "\n";
        KernelEnvironment env = Parse(text);
        Assert.That(env.Thp, Is.Null);
        Assert.That(env.MaxMapCount, Is.EqualTo(65530));
    }

    [TestCase("kernel 6.18.44-fc-v782 x86_64", "kernel 6.18.44-fc-v782 x86_64\nkernel 6.18 x86_64", "line 2: duplicate key 'kernel'")]
    [TestCase("thp madvise", "thp madvise\nswap yes", "line 5: unknown key 'swap'")]
    [TestCase("overcommit_memory 0\n", "", "no 'overcommit_memory' line")]
    [TestCase("zero_page no", "zero_page maybe", "expected one of yes, no")]
    [TestCase("zero_page no", "zero_page  no", "line 2: not a 'key value' line")]
    [TestCase("zero_page no", "zero_page no\n", "line 3: not a 'key value' line")]
    [TestCase("zero_page no", "zero_page", "line 2: not a 'key value' line")]
    [TestCase("anon_vma_name no", "anon_vma_name no no", "expected one of yes, no")]
    [TestCase("x86_64", "aarch64", "architecture 'aarch64' is not modelled")]
    [TestCase("x86_64", "x86_64 extra", "expected 'kernel RELEASE ARCH'")]
    [TestCase("6.18.44-fc-v782", "5.10.0", "older than v6.15")]
    [TestCase("6.18.44-fc-v782", "6.14.9", "older than v6.15")]
    [TestCase("6.18.44-fc-v782", "linux-6.18", "does not start with MAJOR.MINOR")]
    [TestCase("6.18.44-fc-v782", "6", "does not start with MAJOR.MINOR")]
    [TestCase("6.18.44-fc-v782", "99999999999.1", "does not start with MAJOR.MINOR")]
    [TestCase("thp madvise", "thp sometimes", "expected one of always, madvise, never")]
    [TestCase("65530", "0", "expected a positive decimal number")]
    [TestCase("65530", "-1", "expected a positive decimal number")]
    [TestCase("65530", "+5", "expected a positive decimal number")]
    [TestCase("65530", "2147483648", "expected a positive decimal number")]
    [TestCase("overcommit_memory 0", "overcommit_memory 2", "expected one of 0, 1")]
    [TestCase("zero_page no", "zero_page no\u00e9", "non-ASCII byte 0xe9")]
    [TestCase("zero_page no", "zero_page no\r", "expected one of yes, no")]
    public void MalformedOrUnmodelledFileIsRejected(string from, string to, string problem)
    {
        string text = OracleMachine.Replace(from, to, StringComparison.Ordinal);
        Assert.That(() => Parse(text), Throws.TypeOf<FormatException>().With.Message.StartsWith("env.txt: ").And.Message.Contains(problem));
    }

    [Test]
    public void LongValueIsQuotedByItsPrefixOnly()
    {
        string text = OracleMachine.Replace("x86_64", new string('a', 3000), StringComparison.Ordinal);
        Assert.That(() => Parse(text), Throws.TypeOf<FormatException>().With.Message.Length.LessThan(200));
    }

    [Test]
    public void EnvOptionPicksTheOptionsOfTheFile()
    {
        string trace = Path.Combine(TraceCorpus.Root, "handwritten", "061-profile-zero-page-populate.trace");
        foreach (string folder in new[] { "handwritten", "handwritten-zero-page" })
        {
            string expected = File.ReadAllText(Path.Combine(TraceCorpus.Root, folder, "061-profile-zero-page-populate.expected"));
            using var output = new StringWriter { NewLine = "\n" };
            using var error = new StringWriter();
            Assert.That(Program.Run(["--env", Path.Combine(TraceCorpus.Root, folder, TraceCorpus.EnvFile), trace], output, error), Is.Zero, error.ToString());
            Assert.That(output.ToString(), Is.EqualTo(expected), folder);
        }
    }

    [Test]
    public void BadEnvFileIsAnErrorNamingTheFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "kernel 6.18 x86_64\n");
            using var output = new StringWriter();
            using var error = new StringWriter();
            Assert.That(Program.Run(["--env", path, "-"], output, error), Is.EqualTo(1));
            Assert.That(error.ToString(), Does.Contain($"{path}: no 'zero_page' line"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void EnvAndProfileTogetherAreAUsageError()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.That(Program.Run(["--env", "env.txt", "--profile", "v6.15", "-"], output, error), Is.EqualTo(1));
        Assert.That(error.ToString(), Does.Contain("give one"));
    }

    [Test]
    public void EveryCorpusEnvFileIsThisFormatExactly()
    {
        foreach (string folder in TraceCorpus.Folders())
        {
            string path = Path.Combine(TraceCorpus.Root, folder, TraceCorpus.EnvFile);
            if (File.Exists(path))
            {
                KernelEnvironment env = KernelEnvironment.Load(path);
                Assert.That(File.ReadAllText(path), Does.StartWith($"kernel {env.Release} {env.Architecture}\nzero_page "), folder);
            }
        }
    }

    private static KernelEnvironment Parse(string text) => KernelEnvironment.Parse(new StringReader(text), "env.txt");
}
