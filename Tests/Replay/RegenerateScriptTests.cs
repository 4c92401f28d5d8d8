using System;
using System.Diagnostics;
using System.IO;
using NUnit.Framework;

namespace Tests.Replay;

/// <summary>
/// <c>regenerate.sh</c> against a stand-in oracle, in a scratch copy of a corpus: it rewrites a folder only when the
/// machine's <c>oracle -E</c> is the folder's <c>env.txt</c>, and <c>--new</c> makes a folder for this machine.
/// </summary>
[TestFixture]
public class RegenerateScriptTests
{
    private const string OldMachine = "kernel 6.18.44-fc-v782 x86_64\nzero_page no\n";
    private const string NewMachine = "kernel 6.18.44-fc-v857 x86_64\nzero_page yes\n";

    private string _root = "";

    [SetUp]
    public void CreateCorpus()
    {
        Assume.That(File.Exists("/bin/sh"), "needs a POSIX shell");
        _root = Path.Combine(Path.GetTempPath(), $"regenerate-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(_root, "handwritten"));
        Directory.CreateDirectory(Path.Combine(_root, "v6.15"));
        File.Copy(Path.Combine(TraceCorpus.Root, "regenerate.sh"), Path.Combine(_root, "regenerate.sh"));
        File.WriteAllText(Path.Combine(_root, "handwritten", "env.txt"), OldMachine);
        File.WriteAllText(Path.Combine(_root, "handwritten", "001-a.trace"), "maps\n");
        File.WriteAllText(Path.Combine(_root, "handwritten", "001-a.expected"), "old output\n");
        File.WriteAllText(Path.Combine(_root, "v6.15", "profile.txt"), "profile v6.15\n");
        File.WriteAllText(Path.Combine(_root, "v6.15", "001-a.trace"), "maps\n");
        File.WriteAllText(Path.Combine(_root, "v6.15", "001-a.expected"), "derived\n");
    }

    [TearDown]
    public void DeleteCorpus()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Test]
    public void FolderOfAnotherMachineIsNotRewritten()
    {
        (int status, string error) = Regenerate(Oracle(NewMachine), "gen.py");
        Assert.That(status, Is.EqualTo(1));
        Assert.That(error, Does.Contain("differs from the env.txt of: handwritten"));
        Assert.That(Read("handwritten", "001-a.expected"), Is.EqualTo("old output\n"));
    }

    [Test]
    public void FolderOfThisMachineIsRewrittenAndProfileFoldersAreNot()
    {
        (int status, string error) = Regenerate(Oracle(OldMachine), "gen.py");
        Assert.That(status, Is.Zero, error);
        Assert.That(Read("handwritten", "001-a.expected"), Is.EqualTo("output of 001-a.trace\n"));
        Assert.That(Read("v6.15", "001-a.expected"), Is.EqualTo("derived\n"));
    }

    [Test]
    public void NewFolderHoldsThisMachinesEnvTracesAndOutputs()
    {
        (int status, string error) = Regenerate("--new", "handwritten-zero-page", "handwritten", Oracle(NewMachine));
        Assert.That(status, Is.Zero, error);
        Assert.That(Read("handwritten-zero-page", "env.txt"), Is.EqualTo(NewMachine));
        Assert.That(Read("handwritten-zero-page", "001-a.trace"), Is.EqualTo("maps\n"));
        Assert.That(Read("handwritten-zero-page", "001-a.expected"), Is.EqualTo("output of 001-a.trace\n"));
        Assert.That(Read("handwritten", "001-a.expected"), Is.EqualTo("old output\n"));
    }

    [Test]
    public void NewFolderIsNotMadeOverAnotherMachinesFolder()
    {
        (int status, string error) = Regenerate("--new", "handwritten", "handwritten", Oracle(NewMachine));
        Assert.That(status, Is.EqualTo(1));
        Assert.That(error, Does.Contain("nothing written"));
        Assert.That(Read("handwritten", "env.txt"), Is.EqualTo(OldMachine));
        Assert.That(Read("handwritten", "001-a.expected"), Is.EqualTo("old output\n"));
    }

    /// <summary>A stand-in oracle: <c>-E</c> prints <paramref name="machine"/>, a trace prints one line naming it.</summary>
    private string Oracle(string machine)
    {
        string path = Path.Combine(_root, "oracle");
        File.WriteAllText(path, $"#!/bin/sh\nif [ \"$1\" = -E ]; then printf '{machine.Replace("\n", "\\n", StringComparison.Ordinal)}'; else echo \"output of $(basename \"$1\")\"; fi\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return path;
    }

    private (int Status, string Error) Regenerate(params string[] args)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(Path.Combine(_root, "regenerate.sh"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }

    private string Read(string folder, string file) => File.ReadAllText(Path.Combine(_root, folder, file));
}
