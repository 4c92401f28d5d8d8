using System;
using System.Collections.Generic;
using System.Globalization;
using VmaEngine.Vma;

namespace Fuzz;

/// <summary>
/// Runs random cases on the engine and on this machine's kernel (through <see cref="KernelHelper"/>) and compares,
/// after every call, the result (errno, and the address where placement is deterministic: inside the zones) and the
/// layout of every zone. A case stops at its first difference, since the two then no longer start equal.
/// </summary>
internal static class DifferentialFuzzer
{
    /// <summary>Runs cases until <paramref name="calls"/> calls were compared or <paramref name="maxFindings"/> differences found.</summary>
    /// <param name="seed">The generator's seed.</param>
    /// <param name="calls">How many calls to compare.</param>
    /// <param name="brkEdges">Whether brk is given values at or above TASK_SIZE (see <see cref="CallGenerator"/>).</param>
    /// <param name="maxFindings">Stop after this many differences.</param>
    public static FuzzReport Run(int seed, long calls, bool brkEdges, int maxFindings)
    {
        var report = new FuzzReport { Seed = seed };
        using KernelHelper kernel = KernelHelper.Start();
        kernel.Zones.CheckFocus();
        using var engine = new EngineSide(kernel.Zones);
        AddressSpaceOptions options = EngineSide.HostOptions(kernel.StartBrk, kernel.MmapMinAddr, kernel.ZeroPage);
        var generator = new CallGenerator(seed, kernel.Zones, kernel.StartBrk, kernel.MmapMinAddr, confine: true, brkEdges);
        while (report.Calls < calls && report.Findings.Count < maxFindings)
        {
            var batch = new List<FuzzCall>();
            for (int n = generator.NextCaseLength(); n > 0; n--)
            {
                batch.Add(generator.Next());
            }

            report.Cases++;
            List<(string Result, string Layout)>? expected = kernel.RunCase(batch, out string lost);
            if (expected == null)
            {
                report.LostCases.Add($"case {report.Cases}: {lost}\n{FuzzReport.Describe(batch, batch.Count)}");
                continue;
            }

            using var space = new AddressSpace(options);
            for (int i = 0; i < batch.Count; i++)
            {
                string actual;
                string layout = "";
                try
                {
                    actual = engine.Apply(space, batch[i]);
                    layout = engine.Layout(space);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    actual = $"threw {e.GetType().Name}: {e.Message}";
                }

                report.Calls++;
                string kernelResult = Normalize(batch[i], expected[i].Result, kernel.Zones);
                string engineResult = Normalize(batch[i], actual, kernel.Zones);
                if (kernelResult != engineResult || expected[i].Layout != layout)
                {
                    report.Findings.Add(
                        $"case {report.Cases} call {i}: {batch[i]}\n  kernel {kernelResult}\n  engine {engineResult}\n" +
                        $"{FuzzReport.Describe(batch, i)}kernel layout:\n{expected[i].Layout}engine layout:\n{layout}");
                    break;
                }
            }
        }

        return report;
    }

    /// <summary>
    /// The result line to compare: an mmap or mremap that succeeded outside the zones becomes "elsewhere" (placement
    /// there depends on the rest of the process), and errno names are spelled out.
    /// </summary>
    private static string Normalize(FuzzCall call, string line, Zones zones)
    {
        string[] words = line.Split(' ');
        if (words.Length != 3 || words[0] != "=")
        {
            return line;
        }

        string errno = int.TryParse(words[2], CultureInfo.InvariantCulture, out int number) && number != 0
            ? ((Errno)number).ToString()
            : words[2];
        bool placed = call.Kind is CallKind.Mmap or CallKind.MmapFile or CallKind.Mremap;
        if (placed && ulong.TryParse(words[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong address)
            && address != ulong.MaxValue && !zones.Contains(address))
        {
            return $"= elsewhere {errno}";
        }

        return $"= {words[1]} {errno}";
    }
}
