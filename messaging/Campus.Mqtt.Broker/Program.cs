Console.Error.WriteLine("The standalone broker is not built yet.");
return 1;
