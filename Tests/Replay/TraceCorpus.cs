using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using NUnit.Framework;

namespace Tests.Replay;

/// <summary>The committed traces and their expected outputs, found from the repository root.</summary>
internal static class TraceCorpus
{
    /// <summary>The folder that holds <c>handwritten/</c>, <c>random/</c> and <c>v6.15/</c>.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Test cases of every <c>.trace</c> in <paramref name="folder"/> that has a <c>.expected</c> beside it.</summary>
    public static IEnumerable<TestCaseData> Cases(string folder) =>
        Directory.EnumerateFiles(Path.Combine(Root, folder), "*.trace")
            .Order(StringComparer.Ordinal)
            .Where(trace => File.Exists(Path.ChangeExtension(trace, ".expected")))
            .Select(trace => new TestCaseData(Path.GetRelativePath(Root, trace)).SetName($"{folder}/{Path.GetFileNameWithoutExtension(trace)}"));

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
