-- wrk script: every request carries one of the seeded session cookies, picked
-- at random. The cookie file (one "name=value" a line) is the argument after
-- "--" on wrk's command line. The requests are formatted once, up front, so
-- that wrk spends as little as possible per request.
local requests = {}

function init(args)
    for line in io.lines(args[1]) do
        requests[#requests + 1] = wrk.format(nil, nil, { ["Cookie"] = line })
    end
    if #requests == 0 then
        error("no cookies in " .. args[1])
    end
end

function request()
    return requests[math.random(#requests)]
end
