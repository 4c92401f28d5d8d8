using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace Fuzz;

/// <summary>
/// The kernel side: <c>kernel_helper.c</c>, compiled with gcc on first use (into the temporary directory, named by
/// the source's hash), run as a child process that takes cases on standard input and runs each in a forked child.
/// </summary>
internal sealed class KernelHelper : IDisposable
{
    private readonly Process _process;

    private KernelHelper(Process process, string ready)
    {
        _process = process;
        string[] words = ready.Split(' ');
        if (words.Length != 11 || words[0] != "ready")
        {
            throw new InvalidOperationException($"the kernel helper did not start: '{ready}'");
        }

        StartBrk = Hex(words[1]);
        ZeroPage = words[10] == "1";
        MmapMinAddr = Hex(words[2]);
        Zones = new Zones(Hex(words[5]), Hex(words[6]), Hex(words[7]), Hex(words[8]), Hex(words[9]))
        {
            Unmodelled = (Hex(words[3]), MmapMinAddr),
        };
    }

    /// <summary>Whether a read fault of private anonymous memory maps the zero page on this machine.</summary>
    public bool ZeroPage { get; }

    /// <summary>The helper's <c>start_brk</c> (its break has not moved).</summary>
    public ulong StartBrk { get; }

    /// <summary>
    /// This machine's <c>mmap_min_addr</c>: the larger of the <c>vm.mmap_min_addr</c> sysctl and the kernel's
    /// CONFIG_LSM_MMAP_MIN_ADDR (the engine's single <see cref="VmaEngine.Vma.AddressSpaceOptions.MmapMinAddr"/>).
    /// </summary>
    public ulong MmapMinAddr { get; }

    /// <summary>Where the helper has nothing of its own.</summary>
    public Zones Zones { get; }

    /// <summary>Whether this machine can run the helper: Linux on x86-64 (the engine models x86-64).</summary>
    public static bool IsSupported =>
        OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64;

    /// <summary>Compiles (once per source version) and starts the helper.</summary>
    /// <exception cref="InvalidOperationException">gcc failed or the helper refused to start.</exception>
    public static KernelHelper Start()
    {
        string source = Path.Combine(AppContext.BaseDirectory, "kernel_helper.c");
        string hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(source)))[..16];
        string binary = Path.Combine(Path.GetTempPath(), $"vmaengine-fuzz-helper-{hash}");
        if (!File.Exists(binary))
        {
            string temporary = $"{binary}.{Environment.ProcessId}";
            Run("gcc", ["-O2", "-Wall", "-Werror", "-o", temporary, source]);
            File.Move(temporary, binary, overwrite: true);
        }

        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        Process process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {binary}");
        process.StandardInput.NewLine = "\n";
        string? ready = process.StandardOutput.ReadLine();
        if (ready == null)
        {
            process.WaitForExit();
            throw new InvalidOperationException(
                $"the kernel helper exited with status {process.ExitCode} before it was ready (4: something is mapped in its zones)");
        }

        return new KernelHelper(process, ready);
    }

    /// <summary>
    /// Runs one case in a fresh child: for each call, its result line and its layout text; null when the child died
    /// (the call clobbered it) with the signal in <paramref name="lost"/>.
    /// </summary>
    public List<(string Result, string Layout)>? RunCase(IReadOnlyList<FuzzCall> calls, out string lost)
    {
        var input = new StringBuilder("case\n");
        foreach (FuzzCall call in calls)
        {
            input.Append(call.HelperLine()).Append('\n');
        }

        input.Append("end\n");
        _process.StandardInput.Write(input.ToString());
        _process.StandardInput.Flush();
        var results = new List<(string, string)>();
        var layout = new StringBuilder();
        string? result = null;
        lost = "";
        while (true)
        {
            string line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the kernel helper exited");
            if (line == "done" || line.StartsWith("lost ", StringComparison.Ordinal))
            {
                if (result != null)
                {
                    results.Add((result, layout.ToString()));
                }

                lost = line == "done" ? "" : line;
                return line == "done" ? results : null;
            }

            if (line.StartsWith("= ", StringComparison.Ordinal))
            {
                if (result != null)
                {
                    results.Add((result, layout.ToString()));
                }

                result = line;
                layout.Clear();
                continue;
            }

            layout.Append(line).Append('\n');
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _process.StandardInput.Close();
        _process.WaitForExit();
        _process.Dispose();
    }

    private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    private static void Run(string program, string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed with status {process.ExitCode}: {errors}");
        }
    }
}
