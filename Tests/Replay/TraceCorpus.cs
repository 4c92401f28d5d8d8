using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using NUnit.Framework;
using Replay;
using Replay.Trace;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// The committed traces and their expected outputs, found from the repository root, and the kernel each folder's
/// outputs describe: the <c>env.txt</c> of the machine that produced them (<c>oracle -E</c>), or, for outputs derived
/// by hand, a <c>profile.txt</c> naming an <see cref="AddressSpaceOptions.ForProfile"/> profile.
/// </summary>
internal static class TraceCorpus
{
    /// <summary>The machine facts of a folder whose outputs a kernel oracle produced.</summary>
    public const string EnvFile = "env.txt";

    /// <summary>The named profile of a folder whose outputs were derived by hand (one line: <c>profile NAME</c>).</summary>
    public const string ProfileFile = "profile.txt";

    /// <summary>The options of each folder, by name, read once.</summary>
    private static readonly ConcurrentDictionary<string, AddressSpaceOptions> s_folderOptions = new();

    /// <summary>The folder that holds <c>handwritten/</c>, <c>random/</c>, <c>v6.15/</c> and the other corpus folders.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Every folder of <see cref="Root"/> that holds at least one <c>.expected</c> file, by name.</summary>
    public static IEnumerable<string> Folders() =>
        Directory.EnumerateDirectories(Root)
            .Where(dir => Directory.EnumerateFiles(dir, "*.expected").Any())
            .Select(Path.GetFileName)
            .OfType<string>()
            .Order(StringComparer.Ordinal);

    /// <summary>Test cases of every <c>.trace</c> of every corpus folder that has a <c>.expected</c> beside it.</summary>
    public static IEnumerable<TestCaseData> AllCases() => Folders().SelectMany(Cases);

    /// <summary>Test cases of every <c>.trace</c> in <paramref name="folder"/> that has a <c>.expected</c> beside it.</summary>
    public static IEnumerable<TestCaseData> Cases(string folder) =>
        Directory.EnumerateFiles(Path.Combine(Root, folder), "*.trace")
            .Order(StringComparer.Ordinal)
            .Where(trace => File.Exists(Path.ChangeExtension(trace, ".expected")))
            .Select(trace => new TestCaseData(Path.GetRelativePath(Root, trace)).SetName($"{folder}/{Path.GetFileNameWithoutExtension(trace)}"));

    /// <summary>
    /// The options the outputs of <paramref name="folder"/> were made under: derived from its <c>env.txt</c>, or the
    /// profile its <c>profile.txt</c> names. A folder with both or neither is an error.
    /// </summary>
    public static AddressSpaceOptions OptionsOf(string folder)
    {
        string env = Path.Combine(Root, folder, EnvFile);
        string profile = Path.Combine(Root, folder, ProfileFile);
        if (File.Exists(env) == File.Exists(profile))
        {
            throw new InvalidDataException($"corpus folder {folder} must hold exactly one of {EnvFile} and {ProfileFile}");
        }

        if (File.Exists(env))
        {
            return KernelEnvironment.Load(env).ToOptions();
        }

        string text = File.ReadAllText(profile);
        return text.StartsWith("profile ", StringComparison.Ordinal) && text.EndsWith('\n') && text.Count(c => c == '\n') == 1
            ? AddressSpaceOptions.ForProfile(text["profile ".Length..^1])
            : throw new InvalidDataException($"{profile}: expected one line 'profile NAME'");
    }

    /// <summary>
    /// Replays <paramref name="trace"/> (a path below <see cref="Root"/>, as <see cref="AllCases"/> gives it) under
    /// the options of its folder, backed or not, and asserts that it runs and prints its <c>.expected</c> byte for byte.
    /// </summary>
    public static void AssertReplayPrintsExpected(string trace, bool backed)
    {
        string folder = Path.GetDirectoryName(trace)!;
        AddressSpaceOptions options = s_folderOptions.GetOrAdd(folder, OptionsOf);
        string path = Path.Combine(Root, trace);
        string expected = File.ReadAllText(Path.ChangeExtension(path, ".expected"));
        using TextReader input = TraceLineReader.OpenBytes(File.OpenRead(path));
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter();
        int status = TraceRunner.Run(input, output, options, error, backed: backed);
        Assert.That(status, Is.EqualTo(TraceRunner.Success), error.ToString());
        Assert.That(output.ToString(), Is.EqualTo(expected), trace);
    }

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "Tests", "Replay", "Traces");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("Tests/Replay/Traces was not found above the test directory");
    }
}
