using System;
using System.Linq;
using System.Reflection;
using NUnit.Framework;
using VmaEngine.Vma;

namespace Tests.VmaCore;

/// <summary>
/// The host-facing surface of VmaEngine.Vma: the kernel helpers that only the engine and its tests use (list
/// operations, reference counting, allocation, the writer wait handle) are not public, and the fault-injection hook is
/// off the production surface. The kernel structs' data fields stay public for the raw <c>VmArea*</c> path.
/// </summary>
[TestFixture]
public class PublicSurfaceTests
{
    [TestCase(typeof(ListHead), "Init")]
    [TestCase(typeof(ListHead), "Add")]
    [TestCase(typeof(ListHead), "Delete")]
    [TestCase(typeof(ListHead), "IsEmpty")]
    [TestCase(typeof(VmFile), "Get")]
    [TestCase(typeof(VmFile), "Put")]
    [TestCase(typeof(AnonVmaName), "Put")]
    [TestCase(typeof(AnonVmaName), "Get")]
    [TestCase(typeof(AnonVmaName), "Create")]
    [TestCase(typeof(MemPolicy), "Put")]
    [TestCase(typeof(MmStruct), "WriterWaitHandle")]
    [TestCase(typeof(VmOperations), "Allocate")]
    [TestCase(typeof(VmOperations), "File")]
    [TestCase(typeof(AnonVmaChain), "FromSameVma")]
    [TestCase(typeof(MemPolicy), "Create")]
    [TestCase(typeof(AddressSpace), "Faults")]
    public void KernelInternalsAreNotPublic(Type type, string member)
    {
        MemberInfo[] found = type.GetMember(member, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance);
        Assert.That(found, Is.Not.Empty, $"{type.Name}.{member} exists");
        Assert.That(found.Where(IsPublic), Is.Empty, $"{type.Name}.{member} is not public");
    }

    [Test]
    public void FaultInjectionIsNotAPublicType() =>
        Assert.That(typeof(AddressSpace).Assembly.GetType("VmaEngine.Vma.FaultInjection")!.IsPublic, Is.False);

    private static bool IsPublic(MemberInfo member) => member switch
    {
        FieldInfo field => field.IsPublic,
        MethodInfo method => method.IsPublic,
        PropertyInfo property => property.GetMethod?.IsPublic == true || property.SetMethod?.IsPublic == true,
        _ => true,
    };
}
