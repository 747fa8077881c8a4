// netstandard2.0 lacks this type; records need it.
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit
    {
    }
}
