using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using NUnit.Framework;
using VmaEngine.Vma;

namespace Tests.VmaCore;

/// <summary>
/// The host-facing surface of VmaEngine.Vma: the kernel structs other than <see cref="VmArea"/> and the helpers that
/// only the engine and its tests use (list operations, reference counting, allocation, the writer wait handle) are
/// internal, and the fault-injection hook is off the production surface. The raw path is exactly
/// <see cref="AddressSpace.LockVmaUnderRcu"/> and <see cref="AddressSpace.VmaEndRead"/>, and the <c>VmArea*</c> it
/// hands out shows read-only members only: no kernel field, no pointer.
/// </summary>
[TestFixture]
public class PublicSurfaceTests
{
    /// <summary>The public members whose signature holds a pointer: the raw VMA path, and nothing else.</summary>
    private static readonly string[] s_allowedRawMembers =
    [
        "AddressSpace.LockVmaUnderRcu",
        "AddressSpace.VmaEndRead",
    ];

    /// <summary>What a host reads through a <c>VmArea*</c>: the facts of <see cref="VmaInfo"/> plus the page protection.</summary>
    private static readonly string[] s_vmAreaMembers =
    [
        "Size", "Start", "End", "Flags", "Pgoff", "PageProt", "HasAnonVma", "AnonVmaId", "Backing", "FileId", "FileName",
        "AnonName", "Length", "Pages", "Contains", "ToInfo",
    ];

    private static Assembly Engine => typeof(AddressSpace).Assembly;

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

    [TestCase(typeof(AnonVma))]
    [TestCase(typeof(AnonVmaChain))]
    [TestCase(typeof(AnonVmaName))]
    [TestCase(typeof(ListHead))]
    [TestCase(typeof(MemPolicy))]
    [TestCase(typeof(MmStruct))]
    [TestCase(typeof(VmaShared))]
    [TestCase(typeof(VmFile))]
    [TestCase(typeof(VmFileKind))]
    [TestCase(typeof(VmOperations))]
    [TestCase(typeof(VmUserfaultfdCtx))]
    public void KernelStructIsNotAPublicType(Type type) => Assert.That(type.IsVisible, Is.False, type.Name);

    [Test]
    public void FaultInjectionIsNotAPublicType() =>
        Assert.That(Engine.GetType("VmaEngine.Vma.FaultInjection")!.IsPublic, Is.False);

    [Test]
    public void NoPublicTypeHasAPublicPointerField()
    {
        IEnumerable<string> pointerFields =
            from type in Engine.GetExportedTypes()
            from field in type.GetFields(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static)
            where field.FieldType.IsPointer || field.FieldType == typeof(nint) || field.FieldType == typeof(nuint)
            select $"{type.Name}.{field.Name}";
        Assert.That(pointerFields, Is.Empty);
    }

    [Test]
    public void OnlyTheRawVmaPathTakesOrReturnsAPointer()
    {
        IEnumerable<string> rawMembers =
            from type in Engine.GetExportedTypes()
            from method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
            where method.ReturnType.IsPointer || method.GetParameters().Any(p => p.ParameterType.IsPointer)
            select $"{type.Name}.{method.Name}";
        Assert.That(rawMembers, Is.EquivalentTo(s_allowedRawMembers));
    }

    [Test]
    public void VmAreaShowsReadOnlyMembersAndNoKernelField()
    {
        MemberInfo[] members = typeof(VmArea).GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly);
        IEnumerable<string> names = members
            .Where(m => m is not MethodInfo { IsSpecialName: true } and not ConstructorInfo)
            .Select(m => m.Name);
        Assert.That(names, Is.EquivalentTo(s_vmAreaMembers));
        Assert.That(typeof(VmArea).GetFields(BindingFlags.Public | BindingFlags.Instance), Is.Empty, "every kernel field is internal");
        Assert.That(typeof(VmArea).GetProperties().Where(p => p.CanWrite), Is.Empty, "a host cannot change a VMA");
    }

    private static bool IsPublic(MemberInfo member) => member switch
    {
        FieldInfo field => field.IsPublic && field.DeclaringType!.IsVisible,
        MethodInfo method => method.IsPublic && method.DeclaringType!.IsVisible,
        PropertyInfo property => property.DeclaringType!.IsVisible && (property.GetMethod?.IsPublic == true || property.SetMethod?.IsPublic == true),
        _ => true,
    };
}
